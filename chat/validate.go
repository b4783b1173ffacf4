package chat

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// validateText checks a send request's raw JSON text field and returns the text,
// trimmed of surrounding white space. It counts runes, not bytes, because the limit
// is what a user sees: 500 Korean syllables are 1,500 bytes and are accepted.
func validateText(raw json.RawMessage, maxRunes int) (string, *Error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", errorf(CodeEmpty, "text is missing")
	}
	if !utf8.Valid(raw) {
		return "", errorf(CodeInvalidUTF8, "text is not valid UTF-8")
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return "", errorf(CodeBadMessage, "text must be a string")
	}
	// encoding/json turns a lone surrogate escape (\ud800) into U+FFFD; any U+FFFD
	// beyond those the client literally sent came from one.
	if n := strings.Count(text, "\uFFFD"); n > 0 && n > countReplacement(raw) {
		return "", errorf(CodeInvalidUTF8, "text holds an unpaired UTF-16 surrogate")
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return "", errorf(CodeEmpty, "text is empty")
	}
	if n := utf8.RuneCountInString(text); n > maxRunes {
		return "", errorf(CodeTooLong, "text is %d characters, over the %d-character limit", n, maxRunes)
	}
	return text, nil
}

// countReplacement counts U+FFFD written in a raw JSON string, literally or escaped.
func countReplacement(raw []byte) int {
	lower := bytes.ToLower(raw)
	return bytes.Count(raw, []byte("\uFFFD")) + bytes.Count(lower, []byte(`\ufffd`))
}

// wordFilter refuses texts containing blocked words or phrases. It is built once
// from Config.BlockedWords and only read afterwards, so it needs no lock.
type wordFilter struct {
	// byFirst maps a phrase's first word to the phrases starting with it, each with
	// its rule number (1-based place in Config.BlockedWords).
	byFirst map[string][]phrase
}

type phrase struct {
	words []string
	rule  int
}

func newWordFilter(list []string) wordFilter {
	f := wordFilter{byFirst: map[string][]phrase{}}
	for i, entry := range list {
		words := splitWords(entry)
		if len(words) == 0 {
			continue
		}
		f.byFirst[words[0]] = append(f.byFirst[words[0]], phrase{words: words, rule: i + 1})
	}
	return f
}

// check returns a blocked_word error naming the rule, never the word: echoing the
// word would teach spammers how to get around the list.
func (f wordFilter) check(text string) *Error {
	if len(f.byFirst) == 0 {
		return nil
	}
	words := splitWords(text)
	for i, w := range words {
		for _, p := range f.byFirst[w] {
			if i+len(p.words) <= len(words) && slices.Equal(words[i:i+len(p.words)], p.words) {
				return errorf(CodeBlockedWord, "text matches blocked-word rule %d of this chat", p.rule)
			}
		}
	}
	return nil
}

// splitWords lower-cases s and splits it into runs of letters, digits and marks,
// so that "Spam!" matches "spam" but "spammer" and "antispam" do not.
func splitWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
	})
}
