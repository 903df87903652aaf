package agent

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
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

// Actor is the principal as the audit log records it.
func (p *Principal) Actor() queue.Actor {
	if p.Role == RoleOwner {
		return queue.OwnerActor
	}
	return queue.UserActor(p.User)
}

// ownerPrincipal is the caller holding the owner token.
var ownerPrincipal = Principal{User: queue.ActorOwner, Role: RoleOwner}

// Errors of the auth service. Handlers map them to HTTP answers.
var (
	ErrBadCredentials = errors.New("unknown user or wrong password")
	ErrNoSession      = errors.New("no valid session: log in with POST /v1/sessions and send the token as 'Authorization: Bearer <token>'")
	ErrUserDisabled   = errors.New("the user is disabled; enable it first (egsd users enable --name NAME)")
)

// LockedError is returned by Login while an account is locked, or while
// the guesses its current window allows are all being checked.
type LockedError struct {
	Until time.Time
	// Busy is set when the account is not locked but every guess its
	// window allows is being checked at this moment.
	Busy bool
}

func (e *LockedError) Error() string {
	if e.Busy {
		return "too many logins for this account at the same moment; try again in a second"
	}
	return fmt.Sprintf("account locked after repeated failed logins until %s; wait, or ask a manager to unlock it (egsd users unlock --name NAME). A manager who is locked out logs in through the owner token: sudo -u egsd egsd login --owner --user NAME",
		e.Until.UTC().Format(time.RFC3339))
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
	// compare checks a password against a bcrypt hash; tests count calls.
	compare func(hash, password []byte) error
	// refusals keeps the audit entries of refused logins bounded.
	refusals *refusalTally
}

// NewAuth returns the auth service over store.
func NewAuth(store *queue.Store, cfg AuthConfig, now func() time.Time) *Auth {
	if now == nil {
		now = time.Now
	}
	dummy, _ := bcrypt.GenerateFromPassword([]byte("egsd-no-such-user"), cfg.BcryptCost)
	return &Auth{store: store, cfg: cfg, now: now, dummyHash: dummy, compare: bcrypt.CompareHashAndPassword,
		refusals: newRefusalTally(store, now)}
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
//
// An account allows auth.lockout_attempts failed guesses, then locks for
// auth.lockout_duration, during which even the right password is refused.
// The budget holds under any concurrency: each guess is reserved in a write
// transaction before bcrypt runs (a count of unsettled guesses on the user,
// refused once failures plus unsettled guesses reach the limit), and
// settled after it. A guess
// reserved and never settled, because the agent stopped in between, counts
// as a failure at the next start ([Auth.SettleInterrupted]), so a crash
// gives no free guess. bcrypt itself runs outside any transaction: it takes
// tens of milliseconds and must not hold up issuing.
func (a *Auth) Login(name, password, from string) (string, *queue.Session, error) {
	from = sourceHost(from)
	if !userNamePattern.MatchString(name) {
		// No user can have this name, and the rule is public: no bcrypt.
		return "", nil, a.refused("", refusedUnknownUser, name, from, ErrBadCredentials)
	}
	hash, err := a.reserveGuess(name)
	var locked *LockedError
	switch {
	case errors.Is(err, queue.ErrNotFound):
		a.compare(a.dummyHash, []byte(password))
		return "", nil, a.refused("", refusedUnknownUser, name, from, ErrBadCredentials)
	case errors.Is(err, ErrUserDisabled):
		return "", nil, a.refused(name, refusedDisabled, name, from, ErrBadCredentials)
	case errors.As(err, &locked) && locked.Busy:
		return "", nil, a.refused(name, refusedBusy, name, from, err)
	case errors.As(err, &locked):
		return "", nil, a.refused(name, refusedLocked, name, from, err)
	case err != nil:
		return "", nil, err
	}
	ok := a.compare(hash, []byte(password)) == nil
	return a.settleGuess(name, hash, ok, from)
}

// refused tallies a refusal and returns answer, or the error of writing
// the audit entry.
func (a *Auth) refused(subject, reason, name, from string, answer error) error {
	if err := a.refusals.refuse(subject, reason, name, from); err != nil {
		return err
	}
	return answer
}

// reserveGuess takes one guess from name's budget and returns the password
// hash to check it against: queue.ErrNotFound, ErrUserDisabled or a
// *LockedError when there is none to take.
func (a *Auth) reserveGuess(name string) ([]byte, error) {
	var hash []byte
	err := a.store.Update(func(tx *queue.Tx) error {
		u, err := tx.User(name)
		if err != nil {
			return err
		}
		now := a.now()
		switch {
		case now.Before(u.LockedUntil):
			return &LockedError{Until: u.LockedUntil}
		case u.Disabled:
			return ErrUserDisabled
		case u.FailedLogins+u.Unsettled >= a.cfg.LockoutAttempts:
			return &LockedError{Until: now, Busy: true}
		}
		u.Unsettled++
		hash = u.PasswordHash
		return tx.PutUser(u)
	})
	return hash, err
}

// settleGuess records the outcome of a reserved guess: a session, or a
// failure that locks the account once the budget is spent.
// hash is what the guess was checked against.
func (a *Auth) settleGuess(name string, hash []byte, ok bool, from string) (string, *queue.Session, error) {
	var token string
	var sess *queue.Session
	var refusal error
	err := a.store.Update(func(tx *queue.Tx) error {
		u, err := tx.User(name)
		if errors.Is(err, queue.ErrNotFound) {
			refusal = ErrBadCredentials // removed while its password was checked
			return nil
		}
		if err != nil {
			return err
		}
		if u.Unsettled > 0 {
			u.Unsettled--
		}
		now := a.now()
		// A password changed, or an account disabled, while the guess was
		// checked: the guess was against what no longer holds.
		ok = ok && bytes.Equal(u.PasswordHash, hash) && !u.Disabled
		entry := queue.AuditEntry{Action: queue.AuditLoginFailed, Subject: name}.By(queue.AnonymousActor)
		switch {
		case ok && now.Before(u.LockedUntil):
			// The other guesses of the same burst locked the account while
			// this one was checked: the lock holds for the right password too.
			refusal = &LockedError{Until: u.LockedUntil}
			entry.Details = map[string]string{"reason": "right password during the lock", "from": from}
		case ok:
			u.FailedLogins = 0
			if token, err = newToken(); err != nil {
				return err
			}
			sess = &queue.Session{User: u.Name, Role: u.Role, Created: now.UTC(), Expires: now.Add(a.cfg.SessionTTL.Duration).UTC()}
			if err := tx.PutSession(hashToken(token), sess); err != nil {
				return err
			}
			if err := tx.DeleteExpiredSessions(now); err != nil {
				return err
			}
			entry = queue.AuditEntry{Action: queue.AuditLogin, Details: map[string]string{"role": u.Role, "from": from}}.By(queue.UserActor(name))
		default:
			refusal = ErrBadCredentials
			reason := a.countFailure(u, 1, now)
			if !u.LockedUntil.IsZero() && now.Before(u.LockedUntil) {
				refusal = &LockedError{Until: u.LockedUntil}
			}
			entry.Details = map[string]string{"reason": "wrong password" + reason, "from": from}
		}
		if err := tx.PutUser(u); err != nil {
			return err
		}
		return tx.Audit(entry)
	})
	if err == nil {
		err = refusal
	}
	if err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

// countFailure adds n failures to u and locks it when they reach the
// limit; it returns what to add to the audit entry's reason.
func (a *Auth) countFailure(u *queue.User, n int, now time.Time) string {
	u.FailedLogins += n
	if u.FailedLogins < a.cfg.LockoutAttempts {
		return ""
	}
	u.FailedLogins = 0
	u.LockedUntil = now.Add(a.cfg.LockoutDuration.Duration)
	return "; account locked until " + u.LockedUntil.UTC().Format(time.RFC3339)
}

// SettleInterrupted counts the guesses that were reserved but never
// settled, because the agent stopped while bcrypt ran, as failures. Only
// the agent logs users in, and it holds the store alone, so at its start
// every unsettled guess is one of those.
func (a *Auth) SettleInterrupted() error {
	return a.store.Update(func(tx *queue.Tx) error {
		users, err := tx.Users()
		if err != nil {
			return err
		}
		now := a.now()
		for i := range users {
			u := &users[i]
			if u.Unsettled == 0 {
				continue
			}
			n := u.Unsettled
			u.Unsettled = 0
			reason := a.countFailure(u, n, now)
			if err := tx.PutUser(u); err != nil {
				return err
			}
			if err := tx.Audit(queue.AuditEntry{Action: queue.AuditLoginFailed, Subject: u.Name, Details: map[string]string{
				"reason": "password check interrupted by a stop; counted as failed" + reason, "count": strconv.Itoa(n)}}.By(queue.SystemActor)); err != nil {
				return err
			}
		}
		return nil
	})
}

// FlushRefusals writes the counts of refused logins whose window is over,
// or all of them when all is set.
func (a *Auth) FlushRefusals(all bool) error { return a.refusals.flush(all) }

// OwnerSession opens a session for the named user on the owner's word,
// without its password and whatever its lockout: the way in for a manager
// whom a local process keeps locked out. The user must be enabled.
func (a *Auth) OwnerSession(name, from string) (string, *queue.Session, error) {
	var token string
	var sess *queue.Session
	err := a.store.Update(func(tx *queue.Tx) error {
		u, err := tx.User(name)
		if err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
		if u.Disabled {
			return ErrUserDisabled
		}
		now := a.now()
		if token, err = newToken(); err != nil {
			return err
		}
		sess = &queue.Session{User: u.Name, Role: u.Role, Created: now.UTC(), Expires: now.Add(a.cfg.SessionTTL.Duration).UTC()}
		if err := tx.PutSession(hashToken(token), sess); err != nil {
			return err
		}
		return tx.Audit(queue.AuditEntry{Action: queue.AuditLogin, Subject: name, Details: map[string]string{
			"role": u.Role, "via": "owner token", "from": sourceHost(from)}}.By(queue.OwnerActor))
	})
	if err != nil {
		return "", nil, err
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
		p := ownerPrincipal
		return &p, nil
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
		return tx.Audit(queue.AuditEntry{Action: queue.AuditLogout}.By(p.Actor()))
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

// AddUser creates a user; by is who did it, for the audit log.
func (a *Auth) AddUser(by queue.Actor, name, role, password string) (UserView, error) {
	if !userNamePattern.MatchString(name) {
		return UserView{}, &InputError{"name", "must be 1–32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"}
	}
	if slices.Contains(queue.ReservedActorNames(), name) {
		return UserView{}, &InputError{"name", fmt.Sprintf("%q is reserved: the audit log uses %s for actors that are not users; choose another name",
			name, strings.Join(queue.ReservedActorNames(), ", "))}
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
		return tx.Audit(queue.AuditEntry{Action: queue.AuditUserAdded, Subject: name, Details: map[string]string{"role": string(r)}}.By(by))
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
func (a *Auth) ChangeUser(by queue.Actor, name string, ch UserChange) (UserView, error) {
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
			// Pending guesses stay counted: they settle when bcrypt returns.
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
		return tx.Audit(queue.AuditEntry{Action: queue.AuditUserChanged, Subject: name, Details: details}.By(by))
	})
	return view, err
}

// RemoveUser deletes a user and ends its sessions. The last enabled manager
// cannot be removed.
func (a *Auth) RemoveUser(by queue.Actor, name string) error {
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
		return tx.Audit(queue.AuditEntry{Action: queue.AuditUserRemoved, Subject: name}.By(by))
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
