module example.com/gen/edge

go 1.21
