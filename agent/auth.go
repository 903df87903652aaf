package agent

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/egsd/egsd/queue"
)

// Role is what a user may do. Stored values.
type Role string

const (
	// RoleCashier issues sales and reads its own documents.
	RoleCashier Role = "cashier"
	// RoleManager manages users, replay, incidents and reports.
	RoleManager Role = "manager"
	// RoleTechnician onboards the unit and looks after the printer and
	// configuration.
	RoleTechnician Role = "technician"
	// RoleOwner is not a user: it is whoever can read the owner token in
	// the data directory (the OS user the service runs as, or root). It may
	// only manage users, so that the first manager can be created and a
	// locked-out manager recovered.
	RoleOwner Role = "owner"
)

// Roles lists the roles a user can have.
var Roles = []Role{RoleCashier, RoleManager, RoleTechnician}

func parseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("role %q is not one of cashier, manager, technician", s)
}

// Principal is the authenticated caller of a request.
type Principal struct {
	User string
	Role Role
	// TokenHash identifies the session (empty for the owner token).
	TokenHash []byte
}

// Errors of the auth service. Handlers map them to HTTP answers.
var (
	ErrBadCredentials = errors.New("unknown user or wrong password")
	ErrNoSession      = errors.New("no valid session: log in with POST /v1/sessions and send the token as 'Authorization: Bearer <token>'")
)

// LockedError is returned by Login while an account is locked.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return fmt.Sprintf("account locked after repeated failed logins until %s; wait, or ask a manager to unlock it", e.Until.UTC().Format(time.RFC3339))
}

// InputError is a request that names a field and the rule it broke.
type InputError struct{ Field, Rule string }

func (e *InputError) Error() string { return e.Field + ": " + e.Rule }

// Auth is users, passwords and sessions.
type Auth struct {
	store *queue.Store
	cfg   AuthConfig
	now   func() time.Time
	// ownerTokenHash is SHA-256 of the owner token; nil disables it.
	ownerTokenHash []byte
	// dummyHash is compared against for unknown users so that a login for
	// a name that does not exist costs as much as one that does.
	dummyHash []byte
}

// NewAuth returns the auth service over store.
func NewAuth(store *queue.Store, cfg AuthConfig, now func() time.Time) *Auth {
	if now == nil {
		now = time.Now
	}
	dummy, _ := bcrypt.GenerateFromPassword([]byte("egsd-no-such-user"), cfg.BcryptCost)
	return &Auth{store: store, cfg: cfg, now: now, dummyHash: dummy}
}

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// newToken returns 256 random bits, base64url without padding.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Login checks name and password and opens a session, returning its token.
// Failures are audited; LockoutAttempts failures in a row lock the account
// for LockoutDuration.
func (a *Auth) Login(name, password, from string) (string, *queue.Session, error) {
	var u *queue.User
	err := a.store.View(func(tx *queue.Tx) error {
		var err error
		u, err = tx.User(name)
		return err
	})
	if errors.Is(err, queue.ErrNotFound) {
		bcrypt.CompareHashAndPassword(a.dummyHash, []byte(password))
		a.store.Audit(queue.AuditEntry{Actor: name, Action: queue.AuditLoginFailed, Details: map[string]string{"reason": "unknown user", "from": from}})
		return "", nil, ErrBadCredentials
	}
	if err != nil {
		return "", nil, err
	}
	now := a.now()
	if now.Before(u.LockedUntil) {
		a.store.Audit(queue.AuditEntry{Actor: name, Action: queue.AuditLoginFailed, Details: map[string]string{"reason": "locked", "from": from}})
		return "", nil, &LockedError{Until: u.LockedUntil}
	}
	// bcrypt runs outside any write transaction: it takes tens of
	// milliseconds and must not hold up issuing.
	ok := !u.Disabled && bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(password)) == nil
	var token string
	var sess *queue.Session
	var lockedUntil time.Time
	err = a.store.Update(func(tx *queue.Tx) error {
		u, err := tx.User(name)
		if err != nil {
			return err
		}
		if !ok {
			u.FailedLogins++
			reason := "wrong password"
			if u.Disabled {
				reason = "disabled"
			}
			if u.FailedLogins >= a.cfg.LockoutAttempts {
				u.FailedLogins = 0
				u.LockedUntil = now.Add(a.cfg.LockoutDuration.Duration)
				lockedUntil = u.LockedUntil
				reason += "; account locked until " + u.LockedUntil.UTC().Format(time.RFC3339)
			}
			if err := tx.PutUser(u); err != nil {
				return err
			}
			return tx.Audit(queue.AuditEntry{Actor: name, Action: queue.AuditLoginFailed, Details: map[string]string{"reason": reason, "from": from}})
		}
		u.FailedLogins = 0
		if err := tx.PutUser(u); err != nil {
			return err
		}
		token, err = newToken()
		if err != nil {
			return err
		}
		sess = &queue.Session{User: u.Name, Role: u.Role, Created: now.UTC(), Expires: now.Add(a.cfg.SessionTTL.Duration).UTC()}
		if err := tx.PutSession(hashToken(token), sess); err != nil {
			return err
		}
		if err := tx.DeleteExpiredSessions(now); err != nil {
			return err
		}
		return tx.Audit(queue.AuditEntry{Actor: name, Action: queue.AuditLogin, Details: map[string]string{"role": u.Role, "from": from}})
	})
	switch {
	case err != nil:
		return "", nil, err
	case !lockedUntil.IsZero():
		return "", nil, &LockedError{Until: lockedUntil}
	case !ok:
		return "", nil, ErrBadCredentials
	}
	return token, sess, nil
}

// Authenticate returns the principal of a bearer token.
func (a *Auth) Authenticate(token string) (*Principal, error) {
	if token == "" {
		return nil, ErrNoSession
	}
	th := hashToken(token)
	if a.ownerTokenHash != nil && subtle.ConstantTimeCompare(th, a.ownerTokenHash) == 1 {
		return &Principal{User: "owner", Role: RoleOwner}, nil
	}
	var s *queue.Session
	err := a.store.View(func(tx *queue.Tx) error {
		var err error
		s, err = tx.Session(th)
		return err
	})
	if errors.Is(err, queue.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	if !a.now().Before(s.Expires) {
		return nil, fmt.Errorf("session expired at %s: log in again", s.Expires.Format(time.RFC3339))
	}
	return &Principal{User: s.User, Role: Role(s.Role), TokenHash: th}, nil
}

// Logout revokes the caller's session.
func (a *Auth) Logout(p *Principal) error {
	if p.TokenHash == nil {
		return nil
	}
	return a.store.Update(func(tx *queue.Tx) error {
		if err := tx.DeleteSession(p.TokenHash); err != nil {
			return err
		}
		return tx.Audit(queue.AuditEntry{Actor: p.User, Action: queue.AuditLogout})
	})
}

var userNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}$`)

func (a *Auth) checkPassword(pw string) error { return checkPassword(pw, a.cfg.MinPassword) }

// UserView is a user as the API shows it: never the password hash.
type UserView struct {
	Name        string    `json:"name"`
	Role        string    `json:"role"`
	Disabled    bool      `json:"disabled"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func viewUser(u *queue.User) UserView {
	return UserView{u.Name, u.Role, u.Disabled, u.LockedUntil, u.CreatedAt, u.UpdatedAt}
}

// AddUser creates a user; actor is who did it, for the audit log.
func (a *Auth) AddUser(actor, name, role, password string) (UserView, error) {
	if !userNamePattern.MatchString(name) {
		return UserView{}, &InputError{"name", "must be 1–32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"}
	}
	r, err := parseRole(role)
	if err != nil {
		return UserView{}, &InputError{"role", err.Error()}
	}
	if err := a.checkPassword(password); err != nil {
		return UserView{}, err
	}
	// Refuse a duplicate before paying for the hash; the write below
	// checks again in case of a race.
	if err := a.store.View(func(tx *queue.Tx) error {
		if _, err := tx.User(name); err == nil {
			return fmt.Errorf("user %q %w", name, queue.ErrExists)
		}
		return nil
	}); err != nil {
		return UserView{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), a.cfg.BcryptCost)
	if err != nil {
		return UserView{}, err
	}
	now := a.now().UTC()
	u := &queue.User{Name: name, Role: string(r), PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	err = a.store.Update(func(tx *queue.Tx) error {
		if _, err := tx.User(name); err == nil {
			return fmt.Errorf("user %q %w", name, queue.ErrExists)
		}
		if err := tx.PutUser(u); err != nil {
			return err
		}
		return tx.Audit(queue.AuditEntry{Actor: actor, Action: queue.AuditUserAdded, Subject: name, Details: map[string]string{"role": string(r)}})
	})
	return viewUser(u), err
}

// UserChange is a change to a user; nil fields stay as they are.
type UserChange struct {
	Role     *string `json:"role"`
	Password *string `json:"password"`
	Disabled *bool   `json:"disabled"`
	Unlock   bool    `json:"unlock"`
}

// ChangeUser applies ch to the named user. A change of role, password or
// disabled state ends the user's sessions.
func (a *Auth) ChangeUser(actor, name string, ch UserChange) (UserView, error) {
	var hash []byte
	if ch.Password != nil {
		if err := a.checkPassword(*ch.Password); err != nil {
			return UserView{}, err
		}
		var err error
		if hash, err = bcrypt.GenerateFromPassword([]byte(*ch.Password), a.cfg.BcryptCost); err != nil {
			return UserView{}, err
		}
	}
	var role Role
	if ch.Role != nil {
		var err error
		if role, err = parseRole(*ch.Role); err != nil {
			return UserView{}, &InputError{"role", err.Error()}
		}
	}
	var view UserView
	err := a.store.Update(func(tx *queue.Tx) error {
		u, err := tx.User(name)
		if err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
		details := map[string]string{}
		endSessions := false
		if ch.Role != nil && u.Role != string(role) {
			if u.Role == string(RoleManager) {
				if err := lastManagerGuard(tx, name); err != nil {
					return err
				}
			}
			details["role"] = u.Role + "→" + string(role)
			u.Role, endSessions = string(role), true
		}
		if hash != nil {
			u.PasswordHash, endSessions = hash, true
			details["password"] = "changed"
		}
		if ch.Disabled != nil && *ch.Disabled != u.Disabled {
			if *ch.Disabled && u.Role == string(RoleManager) {
				if err := lastManagerGuard(tx, name); err != nil {
					return err
				}
			}
			u.Disabled, endSessions = *ch.Disabled, endSessions || *ch.Disabled
			details["disabled"] = fmt.Sprint(u.Disabled)
		}
		if ch.Unlock {
			u.LockedUntil, u.FailedLogins = time.Time{}, 0
			details["unlock"] = "true"
		}
		u.UpdatedAt = a.now().UTC()
		if err := tx.PutUser(u); err != nil {
			return err
		}
		if endSessions {
			if err := tx.DeleteSessionsOf(name); err != nil {
				return err
			}
		}
		view = viewUser(u)
		return tx.Audit(queue.AuditEntry{Actor: actor, Action: queue.AuditUserChanged, Subject: name, Details: details})
	})
	return view, err
}

// RemoveUser deletes a user and ends its sessions. The last enabled manager
// cannot be removed.
func (a *Auth) RemoveUser(actor, name string) error {
	return a.store.Update(func(tx *queue.Tx) error {
		u, err := tx.User(name)
		if err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
		if u.Role == string(RoleManager) {
			if err := lastManagerGuard(tx, name); err != nil {
				return err
			}
		}
		if err := tx.DeleteUser(name); err != nil {
			return err
		}
		return tx.Audit(queue.AuditEntry{Actor: actor, Action: queue.AuditUserRemoved, Subject: name})
	})
}

// ErrLastManager is returned when a change would leave no enabled manager.
var ErrLastManager = errors.New("this is the last enabled manager; add another manager first")

func lastManagerGuard(tx *queue.Tx, name string) error {
	users, err := tx.Users()
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Name != name && u.Role == string(RoleManager) && !u.Disabled {
			return nil
		}
	}
	return ErrLastManager
}

// Users lists the users.
func (a *Auth) Users() ([]UserView, error) {
	var out []UserView
	err := a.store.View(func(tx *queue.Tx) error {
		users, err := tx.Users()
		for i := range users {
			out = append(out, viewUser(&users[i]))
		}
		return err
	})
	return out, err
}
