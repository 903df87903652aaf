package agent

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// maxPasswordBytes is bcrypt's limit: it ignores every byte after the
// 72nd, so a longer password would be accepted by any password that shares
// its first 72 bytes.
const maxPasswordBytes = 72

// checkPassword applies the password policy to a new password:
//
//   - at least auth.min_password_length characters, counted as Unicode code
//     points (what JSON Schema's minLength counts too);
//   - at most 72 bytes of UTF-8, bcrypt's limit; a longer password is
//     refused rather than silently cut;
//   - only printable characters: letters, marks, digits, punctuation,
//     symbols and spaces. Control characters (C0, DEL, C1) are refused:
//     bcrypt treats the password as a NUL-terminated key that it repeats,
//     so NULs make different passwords hash alike (ten NULs match one).
//     Invisible format characters (zero-width spaces and joiners, bidi
//     controls, the BOM, soft hyphens), line and paragraph separators,
//     private-use and unassigned code points, noncharacters and U+FFFD
//     (what an undecodable byte becomes) are refused too: a password
//     that cannot be seen cannot be typed again reliably on another
//     keyboard.
//
// Passwords are compared as the bytes typed; no Unicode normalisation is
// applied, so a password is entered the way it was set.
func checkPassword(pw string, minChars int) error {
	if !utf8.ValidString(pw) {
		return &InputError{"password", "must be valid UTF-8 text"}
	}
	i := 0
	for _, r := range pw {
		i++
		if what := unprintable(r); what != "" {
			return &InputError{"password", fmt.Sprintf("must contain only printable characters; character %d is U+%04X, %s", i, r, what)}
		}
	}
	if i < minChars {
		return &InputError{"password", fmt.Sprintf("must be at least %d characters (got %d)", minChars, i)}
	}
	if len(pw) > maxPasswordBytes {
		return &InputError{"password", fmt.Sprintf("must be at most %d bytes in UTF-8, bcrypt's limit (got %d bytes); use fewer characters, or fewer outside ASCII", maxPasswordBytes, len(pw))}
	}
	return nil
}

// unprintable says what kind of character r is when a password may not
// contain it, or "" when it may.
func unprintable(r rune) string {
	switch {
	case r == utf8.RuneError:
		return "the replacement character (the text was not decodable)"
	case unicode.Is(unicode.Cc, r):
		return "a control character"
	case unicode.Is(unicode.Cf, r):
		return "an invisible format character"
	case unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
		return "a line or paragraph separator"
	case unicode.Is(unicode.Co, r):
		return "a private-use character"
	case !unicode.IsGraphic(r):
		return "not an assigned character"
	}
	return ""
}
