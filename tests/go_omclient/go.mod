module logpack.test/go_omclient

go 1.19
