package match

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Attribute keys a profile may declare and prefer. The set is fixed and small on
// purpose: the index branches on every key, so each key multiplies the buckets.
const (
	Gender   = "gender"
	Language = "language"
	Country  = "country"
)

// Interests names the common-interest preference in Widening.Drop.
const Interests = "interests"

// numKeys is the number of attribute keys; keys lists them in index order.
const numKeys = 3

var keys = [numKeys]string{Gender, Language, Country}

// interestBit is the common-interest preference's bit in a stage's keep mask;
// bit d (d < numKeys) is the preference on keys[d].
const interestBit = 1 << numKeys

// Limits on a profile. Enqueue refuses a profile over them with ErrInvalidProfile:
// they bound the work one user can cause (each interest is a heap entry, each
// preferred value a branch the index may follow).
const (
	MaxUserLen    = 128 // bytes in a user id
	MaxValueLen   = 32  // bytes in an attribute value or an interest
	MaxInterests  = 16  // interests per profile
	MaxWantValues = 8   // accepted values per preferred key
)

// Profile is what a user declares on asking to be matched. Strings are compared
// byte for byte: normalise case and spelling before enqueueing.
type Profile struct {
	// Attrs are the user's own attributes by key (Gender, Language, Country). A key
	// left out is undeclared, and no preference on that key accepts it.
	Attrs map[string]string
	// Interests are the user's tags; order and duplicates do not matter.
	Interests []string
	// Want is what the user accepts in a partner. It must hold both ways: a pair
	// is matched only if each accepts the other.
	Want Preferences
	// Skip is a user this one is not matched with during this stay in the queue:
	// the partner it just left with "next", so that the two are not matched straight
	// back to each other. Empty for none.
	Skip string
}

// Preferences are what a user accepts in a partner. The zero value accepts anyone
// not blocked.
type Preferences struct {
	// Attrs maps a key to the values accepted for it, e.g. Language: {"ko", "en"}.
	// A key left out, or with no values, accepts any value, undeclared included.
	Attrs map[string][]string
	// CommonInterest requires at least one interest in common with the partner.
	CommonInterest bool
}

// newUser validates p and copies it into the queue's form: sorted, deduplicated
// sets (sharing one allocation) and one signature string per preferred key. It
// holds no lock. Error text is built only on failure: this runs once per arrival.
func newUser(id string, p Profile) (*user, error) {
	if msg := checkString(id, MaxUserLen); msg != "" {
		return nil, fmt.Errorf("%w: user id %s", ErrInvalidUser, msg)
	}
	if p.Skip != "" {
		if msg := checkString(p.Skip, MaxUserLen); msg != "" {
			return nil, fmt.Errorf("%w: skip %s", ErrInvalidUser, msg)
		}
	}
	u := &user{id: id, skip: p.Skip, wantInterest: p.Want.CommonInterest, dpos: -1}
	// Look the known keys up rather than range over the map: iterating a map costs
	// more than three lookups, and a count tells whether any key is unknown.
	found := 0
	for d, k := range keys {
		v, ok := p.Attrs[k]
		if !ok {
			continue
		}
		if msg := checkString(v, MaxValueLen); msg != "" {
			return nil, fmt.Errorf("%w: attribute %s %s", ErrInvalidProfile, k, msg)
		}
		u.self[d] = v
		found++
	}
	if found < len(p.Attrs) {
		return nil, unknownKey("attribute", p.Attrs)
	}
	if len(p.Interests) > MaxInterests {
		return nil, fmt.Errorf("%w: %d interests, over the limit of %d", ErrInvalidProfile, len(p.Interests), MaxInterests)
	}
	for i, it := range p.Interests {
		if msg := checkString(it, MaxValueLen); msg != "" {
			return nil, fmt.Errorf("%w: interest %d %s", ErrInvalidProfile, i+1, msg)
		}
	}
	total := len(p.Interests)
	found = 0
	for _, k := range keys {
		vals, ok := p.Want.Attrs[k]
		if !ok {
			continue
		}
		if len(vals) > MaxWantValues {
			return nil, fmt.Errorf("%w: preference %s lists %d values, over the limit of %d", ErrInvalidProfile, k, len(vals), MaxWantValues)
		}
		for _, v := range vals {
			if msg := checkString(v, MaxValueLen); msg != "" {
				return nil, fmt.Errorf("%w: preference %s value %s", ErrInvalidProfile, k, msg)
			}
		}
		total += len(vals)
		found++
	}
	if found < len(p.Want.Attrs) {
		return nil, unknownKey("preference", p.Want.Attrs)
	}
	if u.wantInterest && len(p.Interests) == 0 {
		return nil, fmt.Errorf("%w: a common interest is wanted but no interests are declared", ErrInvalidProfile)
	}
	buf := make([]string, 0, total)
	u.interests, buf = set(buf, p.Interests)
	u.ipos = make([]int, len(u.interests))
	for d, k := range keys {
		u.want[d], buf = set(buf, p.Want.Attrs[k])
		u.wantSig[d] = strings.Join(u.want[d], "\x1f") // checkString refuses control characters
	}
	return u, nil
}

func keyIndex(k string) int {
	for d, name := range keys {
		if k == name {
			return d
		}
	}
	return -1
}

// unknownKey names the first unknown key in sorted order, so the error does not
// depend on map iteration.
func unknownKey[V any](what string, m map[string]V) error {
	var bad []string
	for k := range m {
		if keyIndex(k) < 0 {
			bad = append(bad, k)
		}
	}
	slices.Sort(bad)
	return fmt.Errorf("%w: unknown %s key %q (known: %s)", ErrInvalidProfile, what, bad[0], strings.Join(keys[:], ", "))
}

// set appends vals to buf sorted and deduplicated, and returns them (nil if
// empty) and the rest of buf. buf has room, so the slices never move.
func set(buf, vals []string) ([]string, []string) {
	if len(vals) == 0 {
		return nil, buf
	}
	n := len(buf)
	buf = append(buf, vals...)
	s := buf[n:]
	slices.Sort(s)
	s = slices.Compact(s)
	return s[:len(s):len(s)], buf[:n+len(s)]
}

// checkString returns why s is refused, or "". Control characters are refused
// because the index joins values with one (U+001F) to build bucket signatures.
func checkString(s string, max int) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > max:
		return fmt.Sprintf("is %d bytes, over the %d-byte limit", len(s), max)
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return "is not valid UTF-8"
		case unicode.IsControl(r):
			return "holds a control character"
		}
		i += size
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return "has leading or trailing white space"
	}
	return ""
}
