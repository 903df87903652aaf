package queue_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
)

func ids(incs []queue.Incident) string {
	var out []uint64
	for _, i := range incs {
		out = append(out, i.ID)
	}
	return fmt.Sprint(out)
}

func TestIncidents(t *testing.T) {
	s := queuetest.Open(t, nil)
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("AST", 3*3600))

	outage, err := s.RaiseIncident(queue.Incident{Kind: "outage", Title: "ZATCA unreachable", Start: start}, "system")
	if err != nil || outage.ID != 1 || !outage.Open() || !outage.Start.Equal(start) || outage.Start.Location() != time.UTC {
		t.Fatalf("RaiseIncident = %+v, %v; want open incident 1 starting %v (stored in UTC)", outage, err, start)
	}
	// The same cause again returns the open incident instead of a new one.
	again, err := s.RaiseIncident(queue.Incident{Kind: "outage", Title: "still unreachable", Start: start.Add(time.Hour)}, "system")
	if err != nil || again.ID != 1 || again.Title != "ZATCA unreachable" || !again.Start.Equal(start) {
		t.Errorf("second outage = %+v, %v; want incident 1 unchanged", again, err)
	}
	clock, err := s.RaiseIncident(queue.Incident{Kind: "clock", Title: "clock jumped back"}, "system")
	if err != nil || clock.ID != 2 || clock.Start.IsZero() {
		t.Errorf("clock incident = %+v, %v; want incident 2 with a start time", clock, err)
	}
	if open, _ := s.Incidents(true, 10); ids(open) != "[2 1]" {
		t.Errorf("open incidents = %s, want [2 1] (newest first)", ids(open))
	}

	if err := s.CloseIncident(1, "back online", "manager"); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseIncident(1, "again", "manager"); err == nil {
		t.Error("closing a closed incident succeeded")
	}
	if err := s.CloseIncident(99, "", "manager"); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("CloseIncident(99) = %v, want ErrNotFound", err)
	}
	if open, _ := s.Incidents(true, 10); ids(open) != "[2]" {
		t.Errorf("open incidents after closing 1 = %s, want [2]", ids(open))
	}
	all, _ := s.Incidents(false, 10)
	if ids(all) != "[2 1]" || all[1].Open() || all[1].Summary != "back online" {
		t.Errorf("all incidents = %+v", all)
	}

	// With the outage closed, a new outage is a new incident.
	next, err := s.RaiseIncident(queue.Incident{Kind: "outage", Title: "down again"}, "system")
	if err != nil || next.ID != 3 {
		t.Errorf("outage after closing = %+v, %v; want incident 3", next, err)
	}
	if limited, _ := s.Incidents(false, 2); ids(limited) != "[3 2]" {
		t.Errorf("Incidents(false, 2) = %s, want [3 2]", ids(limited))
	}

	// Audit: three opened, one closed; the deduplicated raise wrote nothing.
	entries, _ := s.AuditEntries(0, 100)
	var events []string
	for _, e := range entries {
		if e.Action == queue.AuditIncident {
			events = append(events, e.Subject+":"+e.Details["event"]+":"+e.Actor)
		}
	}
	if fmt.Sprint(events) != "[1:opened:system 2:opened:system 1:closed:manager 3:opened:system]" {
		t.Errorf("incident audit = %v", events)
	}
}

func TestUsersAndSessions(t *testing.T) {
	s := queuetest.Open(t, nil)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tok := func(n byte) []byte { return []byte{n, n, n} }
	err := s.Update(func(tx *queue.Tx) error {
		for _, u := range []*queue.User{
			{Name: "zaid", Role: "cashier", PasswordHash: []byte("h1"), CreatedAt: now},
			{Name: "amal", Role: "manager", PasswordHash: []byte("h2"), CreatedAt: now},
		} {
			if err := tx.PutUser(u); err != nil {
				return err
			}
		}
		for n, sess := range map[byte]*queue.Session{
			1: {User: "zaid", Role: "cashier", Expires: now.Add(time.Hour)},
			2: {User: "zaid", Role: "cashier", Expires: now},                   // expires exactly now
			3: {User: "amal", Role: "manager", Expires: now.Add(-time.Second)}, // expired
			4: {User: "amal", Role: "manager", Expires: now.Add(time.Hour)},
		} {
			if err := tx.PutSession(tok(n), sess); err != nil {
				return err
			}
		}
		return tx.Audit(queue.AuditEntry{Actor: "technician", Action: queue.AuditUserAdded, Subject: "zaid"})
	})
	if err != nil {
		t.Fatal(err)
	}

	live := func() string {
		var out []byte
		s.View(func(tx *queue.Tx) error {
			for n := byte(1); n <= 4; n++ {
				if _, err := tx.Session(tok(n)); err == nil {
					out = append(out, '0'+n)
				}
			}
			return nil
		})
		return string(out)
	}
	s.View(func(tx *queue.Tx) error {
		users, err := tx.Users()
		if err != nil || len(users) != 2 || users[0].Name != "amal" || users[1].Name != "zaid" {
			t.Errorf("Users = %+v, %v; want amal, zaid", users, err)
		}
		if u, err := tx.User("zaid"); err != nil || u.Role != "cashier" || string(u.PasswordHash) != "h1" {
			t.Errorf("User(zaid) = %+v, %v", u, err)
		}
		if _, err := tx.User("nobody"); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("User(nobody) = %v, want ErrNotFound", err)
		}
		return nil
	})
	if got := live(); got != "1234" {
		t.Fatalf("sessions = %s, want 1234", got)
	}

	s.Update(func(tx *queue.Tx) error { return tx.DeleteExpiredSessions(now) })
	if got := live(); got != "14" {
		t.Errorf("sessions after expiry at %v = %s, want 14", now, got)
	}
	s.Update(func(tx *queue.Tx) error { return tx.DeleteUser("amal") })
	if got := live(); got != "1" {
		t.Errorf("sessions after deleting amal = %s, want 1", got)
	}

	// A failed Update writes neither the user nor its audit entry.
	before := auditCount(t, s)
	boom := errors.New("boom")
	err = s.Update(func(tx *queue.Tx) error {
		tx.PutUser(&queue.User{Name: "ghost", Role: "cashier"})
		tx.Audit(queue.AuditEntry{Actor: "technician", Action: queue.AuditUserAdded, Subject: "ghost"})
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Update = %v, want %v", err, boom)
	}
	s.View(func(tx *queue.Tx) error {
		if _, err := tx.User("ghost"); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("a rolled-back user exists: %v", err)
		}
		return nil
	})
	if after := auditCount(t, s); after != before {
		t.Errorf("a rolled-back audit entry exists: %d entries, want %d", after, before)
	}
}
