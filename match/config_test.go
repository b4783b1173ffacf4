package match_test

import (
	"errors"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/match"
)

func TestRefusesBadConfig(t *testing.T) {
	for _, w := range [][]match.Widening{
		{{After: 0, Drop: []string{match.Interests}}},
		{{After: 2 * time.Second}, {After: time.Second}},
		{{After: time.Second, Drop: []string{"age"}}},
	} {
		if _, err := match.NewQueue(match.Config{Widen: w}); !errors.Is(err, match.ErrInvalidConfig) {
			t.Errorf("NewQueue(%v): err = %v, want ErrInvalidConfig", w, err)
		}
	}
}
