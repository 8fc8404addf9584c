module example.com/fix/v2mod/v2

go 1.21
