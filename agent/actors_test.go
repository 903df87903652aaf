package agent

import (
	"net/http"
	"testing"

	"github.com/egsd/egsd/queue"
)

// TestReservedUserNames: a manager could create a user named owner or
// system, whose audit entries then read like the owner's or the agent's.
func TestReservedUserNames(t *testing.T) {
	h := newHarness(t, nil)
	manager := h.user("boss", RoleManager)
	owner := h.ownerToken()
	for _, name := range []string{"owner", "system", "anonymous"} {
		for by, token := range map[string]string{"manager": manager, "owner": owner} {
			t.Run(name+" by "+by, func(t *testing.T) {
				p := problemOf(t, h.sendJSON("POST", "/v1/users", token, map[string]string{"name": name, "role": "manager", "password": testPassword}),
					http.StatusBadRequest)
				if !namesField(p, "name") || !containsFold(p.Detail, "reserved") {
					t.Errorf("problem %+v, want the field name and the word reserved", p)
				}
			})
		}
	}
	users, err := h.a.Auth().Users()
	if err != nil || len(users) != 1 {
		t.Errorf("users after the refusals: %+v, %v; want boss alone", users, err)
	}
}

// TestAuditActorKinds: every entry records the kind of its actor, and an
// actor that is not a user has the kind's own name.
func TestAuditActorKinds(t *testing.T) {
	h := newHarness(t, nil)
	owner := h.ownerToken()
	if w := h.sendJSON("POST", "/v1/users", owner, map[string]string{"name": "boss", "role": "manager", "password": testPassword}); w.Code != http.StatusCreated {
		t.Fatalf("owner adds boss: %d %s", w.Code, w.Body)
	}
	manager := h.login("boss", testPassword)
	h.tryLogin("boss", "wrong password")
	h.tryLogin("nobody", "wrong password")
	h.mustSale(manager, "k1", goodSale)

	want := map[string]queue.Actor{ // action (subject) → who
		queue.AuditKey + " " + auditKeyCreated: queue.SystemActor,
		queue.AuditStart:                       queue.SystemActor,
		queue.AuditUserAdded + " boss":         queue.OwnerActor,
		queue.AuditLogin:                       queue.UserActor("boss"),
		queue.AuditLoginFailed + " boss":       queue.AnonymousActor,
		queue.AuditLoginFailed:                 queue.AnonymousActor,
		queue.AuditDocument + " 1":             queue.UserActor("boss"),
	}
	for _, e := range h.audit(manager) {
		if e.ActorKind == "" {
			t.Errorf("entry %d (%s) has no actor kind", e.Seq, e.Action)
		}
		if e.ActorKind != queue.ActorUser && e.Actor != e.ActorKind {
			t.Errorf("entry %d: actor %q of kind %q; an actor that is not a user must carry the kind's name", e.Seq, e.Actor, e.ActorKind)
		}
		key := e.Action
		if e.Subject != "" {
			key += " " + e.Subject
		}
		if who, ok := want[key]; ok {
			if got := (queue.Actor{Name: e.Actor, Kind: e.ActorKind}); got != who {
				t.Errorf("%s: by %+v, want %+v", key, got, who)
			}
			delete(want, key)
		}
	}
	for key := range want {
		t.Errorf("no %s entry in the audit log", key)
	}
}
