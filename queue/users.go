package queue

import (
	"encoding/json"
	"time"
)

// User is a stored user account. Password policy and hashing live in the
// agent; the store only keeps the hash.
type User struct {
	Name         string    `json:"name"`
	Role         string    `json:"role"`
	PasswordHash []byte    `json:"password_hash"`
	Disabled     bool      `json:"disabled,omitempty"`
	FailedLogins int       `json:"failed_logins,omitempty"`
	Unsettled    int       `json:"unsettled_logins,omitempty"` // password guesses reserved, not yet settled
	LockedUntil  time.Time `json:"locked_until,omitzero"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Session is a stored session, keyed by the SHA-256 of its token so that
// the file never holds a usable token.
type Session struct {
	User    string    `json:"user"`
	Role    string    `json:"role"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// User returns the named user.
func (t *Tx) User(name string) (*User, error) {
	u := new(User)
	if err := getJSON(t.tx.Bucket(bucketUsers), []byte(name), u); err != nil {
		return nil, err
	}
	return u, nil
}

// PutUser creates or replaces a user.
func (t *Tx) PutUser(u *User) error { return putJSON(t.tx.Bucket(bucketUsers), []byte(u.Name), u) }

// DeleteUser removes a user and all of its sessions.
func (t *Tx) DeleteUser(name string) error {
	if err := t.tx.Bucket(bucketUsers).Delete([]byte(name)); err != nil {
		return err
	}
	return t.DeleteSessionsOf(name)
}

// Users lists all users, sorted by name.
func (t *Tx) Users() ([]User, error) {
	var out []User
	err := t.tx.Bucket(bucketUsers).ForEach(func(_, v []byte) error {
		var u User
		if err := json.Unmarshal(v, &u); err != nil {
			return err
		}
		out = append(out, u)
		return nil
	})
	return out, err
}

// Session returns the session whose token hashes to tokenHash.
func (t *Tx) Session(tokenHash []byte) (*Session, error) {
	s := new(Session)
	if err := getJSON(t.tx.Bucket(bucketSessions), tokenHash, s); err != nil {
		return nil, err
	}
	return s, nil
}

// PutSession stores a session under its token hash.
func (t *Tx) PutSession(tokenHash []byte, s *Session) error {
	return putJSON(t.tx.Bucket(bucketSessions), tokenHash, s)
}

// DeleteSession revokes one session.
func (t *Tx) DeleteSession(tokenHash []byte) error {
	return t.tx.Bucket(bucketSessions).Delete(tokenHash)
}

// DeleteSessionsOf revokes every session of a user.
func (t *Tx) DeleteSessionsOf(user string) error {
	return t.deleteSessionsWhere(func(s *Session) bool { return s.User == user })
}

// DeleteExpiredSessions removes sessions that expired before now.
func (t *Tx) DeleteExpiredSessions(now time.Time) error {
	return t.deleteSessionsWhere(func(s *Session) bool { return !now.Before(s.Expires) })
}

func (t *Tx) deleteSessionsWhere(match func(*Session) bool) error {
	b := t.tx.Bucket(bucketSessions)
	var doomed [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var s Session
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		if match(&s) {
			doomed = append(doomed, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range doomed {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
