module example.com/gen/dirs
