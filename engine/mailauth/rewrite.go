package mailauth

import (
	"bytes"
	"mime"
	"net/mail"
	"strings"
)

// RewriteFrom replaces the From: field of header (a whole header section)
// with perm when its single address is nick (compared without regard to
// case), keeping the display name: outgoing mail carries the permanent
// address so replies survive a nickname change. It returns the new header
// section, the old field's value, and whether it changed anything.
func RewriteFrom(header []byte, nick, perm string) ([]byte, string, bool) {
	lines := bytes.SplitAfter(header, []byte("\n"))
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if len(l) < 5 || !strings.EqualFold(string(l[:5]), "from:") {
			continue
		}
		// The field with its continuation lines (RFC 5322 §2.2.3).
		j := i + 1
		for j < len(lines) && len(lines[j]) > 0 && (lines[j][0] == ' ' || lines[j][0] == '\t') {
			j++
		}
		raw := string(bytes.Join(lines[i:j], nil))
		value := strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(raw[5:], "\r\n", ""), "\n", ""))
		a, err := mail.ParseAddress(value)
		if err != nil || !strings.EqualFold(a.Address, nick) {
			return header, "", false
		}
		name := a.Name
		field := "From: <" + perm + ">\r\n"
		if name != "" {
			// mail.Address.String quotes or encodes the name (RFC 2047)
			// as needed; keep an encoded-word name encoded.
			field = "From: " + (&mail.Address{Name: name, Address: perm}).String() + "\r\n"
			if strings.Contains(value, "=?") {
				field = "From: " + mime.QEncoding.Encode("utf-8", name) + " <" + perm + ">\r\n"
			}
		}
		var out bytes.Buffer
		for _, x := range lines[:i] {
			out.Write(x)
		}
		out.WriteString(field)
		for _, x := range lines[j:] {
			out.Write(x)
		}
		return out.Bytes(), value, true
	}
	return header, "", false
}

// StripAuthResults removes from header (a whole header section) the
// Authentication-Results fields that claim to come from authServID: a
// message arriving with them forges this MX's results (RFC 8601 §5). It
// returns the new header and how many fields it removed.
func StripAuthResults(header []byte, authServID string) ([]byte, int) {
	lines := bytes.SplitAfter(header, []byte("\n"))
	var out bytes.Buffer
	removed := 0
	for i := 0; i < len(lines); {
		j := i + 1
		for j < len(lines) && len(lines[j]) > 0 && (lines[j][0] == ' ' || lines[j][0] == '\t') {
			j++
		}
		field := bytes.Join(lines[i:j], nil)
		if name, value, ok := strings.Cut(string(field), ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Authentication-Results") {
			id, _, _ := strings.Cut(strings.TrimSpace(strings.NewReplacer("\r", "", "\n", "").Replace(value)), ";")
			// authserv-id [CFWS authres-version]
			if f := strings.Fields(id); len(f) > 0 && strings.EqualFold(f[0], authServID) {
				removed++
				i = j
				continue
			}
		}
		out.Write(field)
		i = j
	}
	if removed == 0 {
		return header, 0
	}
	return out.Bytes(), removed
}
