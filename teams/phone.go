package teams

import (
	"errors"
	"fmt"
)

// ErrBadPhone is returned for a phone number that cannot be put in E.164 form.
var ErrBadPhone = errors.New("phone number cannot be normalised to E.164")

// NormalizePhone puts a phone number in E.164 form (+13135550123). It drops
// spaces, dashes, dots and brackets, and adds the +1 of a 10-digit North
// American number (or the + of an 11-digit one starting with 1).
func NormalizePhone(s string) (string, error) {
	var digits [16]byte
	n := 0
	plus := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= '0' && ch <= '9':
			if n == len(digits) {
				return "", fmt.Errorf("%w: %q has more than 15 digits", ErrBadPhone, s)
			}
			digits[n] = ch
			n++
		case ch == '+':
			if plus || n > 0 {
				return "", fmt.Errorf("%w: %q has a misplaced '+'", ErrBadPhone, s)
			}
			plus = true
		case ch == ' ' || ch == '-' || ch == '.' || ch == '(' || ch == ')':
		default:
			return "", fmt.Errorf("%w: %q has the character %q", ErrBadPhone, s, ch)
		}
	}
	d := string(digits[:n])
	switch {
	case plus && n >= 8 && n <= 15 && d[0] != '0':
		return "+" + d, nil
	case !plus && n == 10 && d[0] >= '2':
		return "+1" + d, nil
	case !plus && n == 11 && d[0] == '1' && d[1] >= '2':
		return "+" + d, nil
	case n == 0:
		return "", fmt.Errorf("%w: %q has no digits", ErrBadPhone, s)
	default:
		return "", fmt.Errorf("%w: %q (want +<country><number>, or a 10-digit North American number)", ErrBadPhone, s)
	}
}

// AreaCode returns the North American area code (NPA) of an E.164 number,
// or false when the number is not a +1 number.
func AreaCode(e164 string) (string, bool) {
	if len(e164) == 12 && e164[0] == '+' && e164[1] == '1' {
		return e164[2:5], true
	}
	return "", false
}
