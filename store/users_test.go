package store

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/talkrelay/talkrelay/call"
)

func TestUsersAndSettings(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := testCtx(t)
	if ok, err := s.UserExists(ctx, "alice"); err != nil || ok {
		t.Fatalf("UserExists of a stranger = %v, %v", ok, err)
	}
	if _, ok, err := s.Settings(ctx, "alice"); err != nil || ok {
		t.Fatalf("Settings of a stranger: ok %v, %v", ok, err)
	}

	if err := s.RememberUser(ctx, "alice", "Alice"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.UserExists(ctx, "alice"); err != nil || !ok {
		t.Fatalf("UserExists after RememberUser = %v, %v", ok, err)
	}
	if _, ok, _ := s.Settings(ctx, "alice"); ok {
		t.Fatal("a user who only connected has settings")
	}
	want := call.Settings{TimeZone: "Asia/Seoul", AvailableFrom: "22:00", AvailableTo: "07:00", Accept: []string{call.ModeVoice}}
	if err := s.PutSettings(ctx, "alice", want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Settings(ctx, "alice")
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("Settings = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	// Neither write loses the other's part.
	if u, _, _ := s.getUser(ctx, "alice"); u.Name != "Alice" || u.Seen.IsZero() {
		t.Fatalf("PutSettings lost the name: %+v", u)
	}
	if err := s.RememberUser(ctx, "alice", "Alice B."); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Settings(ctx, "alice"); !reflect.DeepEqual(got, want) {
		t.Fatalf("RememberUser lost the settings: %+v", got)
	}
	// An empty name keeps the one remembered.
	if err := s.RememberUser(ctx, "alice", ""); err != nil {
		t.Fatal(err)
	}
	if u, _, _ := s.getUser(ctx, "alice"); u.Name != "Alice B." {
		t.Fatalf("name after RememberUser without one = %q", u.Name)
	}

	// Saving settings makes a user known; "accept none" stays an empty list.
	if err := s.PutSettings(ctx, "bob", call.Settings{Accept: []string{}}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.UserExists(ctx, "bob"); !ok {
		t.Fatal("bob saved settings but does not exist")
	}
	if got, ok, _ := s.Settings(ctx, "bob"); !ok || got.Accept == nil || len(got.Accept) != 0 {
		t.Fatalf("accept none came back as %#v (ok %v)", got.Accept, ok)
	}
	// The zero value is saved settings too.
	if err := s.PutSettings(ctx, "carol", call.Settings{}); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := s.Settings(ctx, "carol"); !ok || got.Accept != nil {
		t.Fatalf("zero settings came back as %+v (ok %v)", got, ok)
	}
}

// Writers racing on one user (connections on several nodes, a settings page)
// each keep their own part of the value.
func TestUserConcurrentWriters(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := testCtx(t)
	const rounds = 20
	var wg sync.WaitGroup
	errs := make(chan error, 4*rounds)
	for w := range 4 {
		wg.Go(func() {
			for i := range rounds {
				var err error
				if w%2 == 0 {
					err = s.RememberUser(ctx, "dana", fmt.Sprint("Dana ", w))
				} else {
					err = s.PutSettings(ctx, "dana", call.Settings{TimeZone: "Europe/Paris", AvailableFrom: fmt.Sprintf("%02d:00", i), AvailableTo: "23:00"})
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	u, _, err := s.getUser(ctx, "dana")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.Name, "Dana ") || u.Settings == nil || u.Settings.TimeZone != "Europe/Paris" {
		t.Fatalf("after concurrent writes: %+v", u)
	}
}

func TestUserInvalidNames(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := testCtx(t)
	for _, id := range []string{"", strings.Repeat("x", MaxNameLen+1), "\xff"} {
		if _, _, err := s.Settings(ctx, id); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Settings of %q: %v, want ErrInvalidName", id, err)
		}
		if err := s.PutSettings(ctx, id, call.Settings{}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("PutSettings of %q: %v, want ErrInvalidName", id, err)
		}
		if err := s.RememberUser(ctx, id, "x"); !errors.Is(err, ErrInvalidName) {
			t.Errorf("RememberUser of %q: %v, want ErrInvalidName", id, err)
		}
		if _, err := s.UserExists(ctx, id); !errors.Is(err, ErrInvalidName) {
			t.Errorf("UserExists of %q: %v, want ErrInvalidName", id, err)
		}
	}
	// Names that look like keys or wildcards are separate users.
	hostile := []string{"a.b", "a", "*", ">", "a.>", "日本語 🎥", "\x00\n", strings.Repeat("y", MaxNameLen)}
	for i, id := range hostile {
		if err := s.PutSettings(ctx, id, call.Settings{AvailableFrom: fmt.Sprintf("%02d:00", i), AvailableTo: "23:30"}); err != nil {
			t.Fatalf("PutSettings of %q: %v", id, err)
		}
	}
	for i, id := range hostile {
		got, ok, err := s.Settings(ctx, id)
		if err != nil || !ok || got.AvailableFrom != fmt.Sprintf("%02d:00", i) {
			t.Fatalf("Settings of %q = %+v, %v, %v", id, got, ok, err)
		}
	}
	if ok, _ := s.UserExists(ctx, "b"); ok {
		t.Fatal(`"b" exists though only "a.b" was saved`)
	}
}
