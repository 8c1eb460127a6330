module logpack.example/collect

go 1.19
