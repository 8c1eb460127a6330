// Command logpackreader reads a .tar.gz with Go's standard library alone
// (compress/gzip, multistream as by default, and archive/tar) and prints one
// line per entry: path, size and the SHA-256 of its body, tab-separated.
//
// It reads the whole compressed stream, past the tar end-of-archive marker
// to EOF, so that every gzip member's CRC-32 and length are checked, and it
// requires whatever the tar stream holds after that marker to be zeros. Any
// error goes to stderr with a non-zero exit status.
//
//	go build -o logpackreader . && ./logpackreader ARCHIVE.tar.gz
package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: logpackreader ARCHIVE.tar.gz")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "logpackreader:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("gzip header: %w", err)
	}
	out := bufio.NewWriter(os.Stdout)
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("tar header: %w", err)
		}
		h := sha256.New()
		n, err := io.Copy(h, tr)
		if err != nil {
			return fmt.Errorf("%s: body: %w", hdr.Name, err)
		}
		if n != hdr.Size {
			return fmt.Errorf("%s: read %d bytes, header says %d", hdr.Name, n, hdr.Size)
		}
		fmt.Fprintf(out, "%s\t%d\t%s\n", hdr.Name, hdr.Size, hex.EncodeToString(h.Sum(nil)))
	}
	// Past the end-of-archive marker: read to EOF (this checks the CRC-32 and
	// ISIZE of every gzip member) and require zeros only.
	buf := make([]byte, 64<<10)
	var rest int64
	for {
		n, err := gz.Read(buf)
		for i, b := range buf[:n] {
			if b != 0 {
				return fmt.Errorf("non-zero byte %d bytes after the tar end-of-archive marker", rest+int64(i))
			}
		}
		rest += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("gzip after the tar end-of-archive marker: %w", err)
		}
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return out.Flush()
}
