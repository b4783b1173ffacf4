//go:build !unix

package store

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir only creates dir/LOCK where advisory locks are not available: a second
// store on the same directory is then the operator's mistake to avoid.
func lockDir(dir string) (*os.File, error) {
	name := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", name, err)
	}
	return f, nil
}
