package storage

import "testing"

func TestRebindDollar(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"SELECT 1":                             "SELECT 1",
		"a = ? AND b = ?":                      "a = $1 AND b = $2",
		"x = '?' AND y = ?":                    "x = '?' AND y = $1",
		"x = 'it''s ?' AND y = ? AND z IN (?)": "x = 'it''s ?' AND y = $1 AND z IN ($2)",
	}
	for in, want := range cases {
		if got := RebindDollar(in); got != want {
			t.Errorf("RebindDollar(%q) = %q, want %q", in, got, want)
		}
	}
}
