module example.com/nbcore-go

go 1.19
