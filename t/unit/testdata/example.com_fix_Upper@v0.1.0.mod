module example.com/fix/Upper

go 1.21
