package queue

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Incident is something a manager or technician must know about and may
// have to report to the authority: an outage, a clock jump, refused
// credentials. An open incident has a zero End.
type Incident struct {
	ID       uint64            `json:"id"`
	Kind     string            `json:"kind"` // e.g. "clock", "outage", "credentials"
	Title    string            `json:"title"`
	Detail   string            `json:"detail"`
	Start    time.Time         `json:"start"`
	End      time.Time         `json:"end,omitzero"`
	Summary  string            `json:"summary,omitempty"`
	Data     map[string]string `json:"data,omitempty"`
	Notified []Notification    `json:"notifications,omitempty"`
	// Until is, for an incident about a period that is over before the
	// incident closes (the unit's own failure: its documents are entered
	// afterwards), when that period ended; zero otherwise.
	Until time.Time `json:"until,omitzero"`
	// LateEntries counts the documents issued late for the incident:
	// sales made while the unit could not issue, entered afterwards.
	LateEntries int `json:"late_entries,omitempty"`
}

// Notification is a notice the manager filed with the authority.
type Notification struct {
	Reference string    `json:"reference"`
	By        string    `json:"by"`
	At        time.Time `json:"at"`
}

// Open reports whether the incident is still open.
func (i *Incident) Open() bool { return i.End.IsZero() }

// RaiseIncident opens an incident of inc.Kind, or returns the one of that
// kind that is already open (so a repeated cause does not pile up
// incidents), together with its audit entry. actor is a user's name or
// ActorSystem; its kind follows from the name, which no user may take.
func (s *Store) RaiseIncident(inc Incident, actor string) (Incident, error) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIncidents)
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var old Incident
			if err := json.Unmarshal(v, &old); err != nil {
				return err
			}
			if old.Kind == inc.Kind && old.Open() {
				inc = old
				return nil
			}
		}
		id, err := b.NextSequence()
		if err != nil {
			return err
		}
		inc.ID = id
		if inc.Start.IsZero() {
			inc.Start = s.opts.Now()
		}
		inc.Start = inc.Start.UTC()
		if err := putJSON(b, u64(id), inc); err != nil {
			return err
		}
		return s.appendAudit(tx, &AuditEntry{Actor: actor, Action: AuditIncident, Subject: fmt.Sprint(id),
			Details: map[string]string{"event": "opened", "kind": inc.Kind, "title": inc.Title}})
	})
	return inc, err
}

// OpenIncident opens a new incident, even if one of its kind is open: a
// second failure of the unit is a period of its own. Start must be set.
// "{id}" in Detail becomes the incident's number, so that the commands it
// gives can name it. actor is who opened it, recorded with the window in
// its audit entry.
func (s *Store) OpenIncident(inc Incident, actor Actor) (Incident, error) {
	if inc.Start.IsZero() {
		return Incident{}, fmt.Errorf("queue: OpenIncident needs a start")
	}
	inc.Start, inc.Until = inc.Start.UTC(), inc.Until.UTC()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIncidents)
		id, err := b.NextSequence()
		if err != nil {
			return err
		}
		inc.ID = id
		inc.Detail = strings.ReplaceAll(inc.Detail, "{id}", fmt.Sprint(id))
		if err := putJSON(b, u64(id), inc); err != nil {
			return err
		}
		details := map[string]string{"event": "opened", "kind": inc.Kind, "title": inc.Title, "start": inc.Start.Format(time.RFC3339)}
		if !inc.Until.IsZero() {
			details["until"] = inc.Until.Format(time.RFC3339)
		}
		e := AuditEntry{Action: AuditIncident, Subject: fmt.Sprint(id), Details: details}.By(actor)
		return s.appendAudit(tx, &e)
	})
	return inc, err
}

// CloseIncident closes an open incident with a summary. actor is as for
// RaiseIncident.
func (s *Store) CloseIncident(id uint64, summary, actor string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIncidents)
		var inc Incident
		if err := getJSON(b, u64(id), &inc); err != nil {
			return err
		}
		if !inc.Open() {
			return fmt.Errorf("incident %d is already closed", id)
		}
		inc.End, inc.Summary = s.opts.Now().UTC(), summary
		if err := putJSON(b, u64(id), inc); err != nil {
			return err
		}
		details := map[string]string{"event": "closed", "summary": summary}
		if inc.LateEntries > 0 {
			details["late_entries"] = fmt.Sprint(inc.LateEntries)
		}
		return s.appendAudit(tx, &AuditEntry{Actor: actor, Action: AuditIncident, Subject: fmt.Sprint(id), Details: details})
	})
}

// Incidents returns incidents, newest first; openOnly keeps the open ones.
func (s *Store) Incidents(openOnly bool, limit int) ([]Incident, error) {
	var out []Incident
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketIncidents).Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var inc Incident
			if err := json.Unmarshal(v, &inc); err != nil {
				return err
			}
			if !openOnly || inc.Open() {
				out = append(out, inc)
			}
		}
		return nil
	})
	return out, err
}

// AddNotification records the reference of a notice a manager filed with
// the authority about an incident (ZATCA: notify at failure and at
// resolution), with its audit entry.
func (s *Store) AddNotification(id uint64, n Notification) (Incident, error) {
	var inc Incident
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIncidents)
		if err := getJSON(b, u64(id), &inc); err != nil {
			return err
		}
		if n.At.IsZero() {
			n.At = s.opts.Now()
		}
		n.At = n.At.UTC()
		inc.Notified = append(inc.Notified, n)
		if err := putJSON(b, u64(id), inc); err != nil {
			return err
		}
		return s.appendAudit(tx, &AuditEntry{Actor: n.By, ActorKind: ActorUser, Action: AuditIncident, Subject: fmt.Sprint(id),
			Details: map[string]string{"event": "notification", "reference": n.Reference}})
	})
	return inc, err
}

// Incident returns one incident.
func (s *Store) Incident(id uint64) (Incident, error) {
	var inc Incident
	err := s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketIncidents), u64(id), &inc) })
	return inc, err
}
