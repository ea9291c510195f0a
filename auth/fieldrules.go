package auth

import (
	"strings"
	"unicode"
)

// Characters that change how text looks without showing (issue 12.9).
// Invisible ones let two emails that print alike be different accounts;
// bidi controls reorder what a coordinator reads ("Anna" shown for a name
// that is stored backwards, or a name that swallows the text after it).

// isZeroWidth: U+200B–U+200D, U+2060, U+FEFF.
func isZeroWidth(r rune) bool {
	return (r >= 0x200B && r <= 0x200D) || r == 0x2060 || r == 0xFEFF
}

// isBidiOverride: embeddings/overrides U+202A–U+202E and isolates
// U+2066–U+2069, which stay in force after the text they are in.
func isBidiOverride(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// isBidiMark: U+200E and U+200F (left-to-right and right-to-left marks).
func isBidiMark(r rune) bool { return r == 0x200E || r == 0x200F }

// hiddenInEmail reports whether an email holds any invisible or bidi
// character; none has a place in an address.
func hiddenInEmail(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return isZeroWidth(r) || isBidiOverride(r) || isBidiMark(r) }) >= 0
}

// hiddenInName reports whether a name holds a bidi override or isolate.
// Zero-width joiners and the marks stay allowed: scripts and emoji need them.
func hiddenInName(s string) bool { return strings.IndexFunc(s, isBidiOverride) >= 0 }

// commonPasswords are the most used passwords of at least MinPasswordLen
// characters in public breach lists (plus Swedish favourites), compared
// case-insensitively. A short list by design: it stops the first guesses
// of an online attacker, which is what throttling lets through.
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range []string{
		"1234567890", "0987654321", "12345678910", "123456789a", "1234567890a", "123456789012",
		"1234512345", "1122334455", "0123456789", "9876543210", "1q2w3e4r5t", "1q2w3e4r5t6y",
		"1qaz2wsx3edc", "qwertyuiop", "qwerty1234", "qwerty12345", "qwerty123456", "qwertyuiop123",
		"asdfghjkl1", "asdfghjkl123", "zxcvbnm123", "qazwsxedcrfv", "123qweasdzxc", "abcdefghij",
		"abc1234567", "password12", "password123", "password1234", "password!!", "passw0rd123",
		"passwordpassword", "iloveyou12", "iloveyou123", "princess12", "sunshine12", "football12",
		"football123", "baseball12", "welcome123", "letmein123", "admin12345", "administrator",
		"changeme123", "trustno1234", "superman12", "michael123", "lösenord123", "losenord123",
		"lösenord1234", "hejsan1234", "hejhejhej1", "sommar2024", "sommar2025", "sommar2026",
		"vinter2025", "vinter2026", "clavis1234", "clavis2026",
	} {
		m[p] = true
	}
	return m
}()

// weakPassword says why p is refused beyond its length, or "".
func weakPassword(p string) string {
	if strings.TrimFunc(p, unicode.IsSpace) == "" {
		return "must not be only spaces"
	}
	if commonPasswords[strings.ToLower(p)] {
		return "is one of the most common passwords; choose another"
	}
	first := []rune(p)[0]
	if strings.TrimLeft(p, string(first)) == "" {
		return "must not be one character repeated"
	}
	return ""
}
