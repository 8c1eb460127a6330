module logpackreader

go 1.19
