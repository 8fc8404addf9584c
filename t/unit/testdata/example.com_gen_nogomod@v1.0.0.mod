module example.com/gen/nogomod
