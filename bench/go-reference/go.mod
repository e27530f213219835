module flotilla.invalid/go-reference

go 1.19
