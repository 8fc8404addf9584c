module example.com/fix/a

go 1.21

require example.com/fix/b v1.0.0
