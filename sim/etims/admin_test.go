package etimssim

import (
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/sim/simnet"
	"github.com/egsd/egsd/stamping/etims"
)

func TestFaultsJSONRoundTrip(t *testing.T) {
	f := Faults{Operations: []etims.Operation{etims.OpSaveSale}, Results: map[int64]string{7: "910"},
		Knobs: simnet.Knobs{Latency: 250 * time.Millisecond, Status: 503, StatusCount: 2, TimeoutCount: 1, ResetPercent: 5, Down: true}}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var back Faults
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, f) {
		t.Errorf("round trip %+v, want %+v", back, f)
	}
	for _, bad := range []string{`{"latncy":"1s"}`, `{"latency":"soon"}`, `{"results":{"x":"910"}}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s was taken", bad)
		}
	}
}

func TestAdminEndpoints(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.unit(etims.OSCU)
	post := func(path, body string) (int, string) {
		resp, err := http.Post(h.srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("/admin/faults", `{"status":503,"status_count":1,"operations":["code_list"]}`); code != 200 || !strings.Contains(body, `"status":503`) {
		t.Fatalf("set faults: %d %s", code, body)
	}
	if _, _, err := c.CodeList(ctx, time.Time{}); err == nil || !strings.Contains(err.Error(), "HTTP 503") {
		t.Errorf("the fault did not fire: %v", err)
	}
	if code, body := post("/admin/faults", `{"status_percent":200}`); code != http.StatusBadRequest {
		t.Errorf("a bad fault: %d %s", code, body)
	}
	post("/admin/down", "")
	if _, _, err := c.CodeList(ctx, time.Time{}); err == nil {
		t.Error("down, yet answered")
	}
	post("/admin/up", "")
	if _, _, err := c.CodeList(ctx, time.Time{}); err != nil {
		t.Errorf("up: %v", err)
	}
	resp, err := http.Get(h.srv.URL + "/admin/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || len(st.Units) != 1 || st.Units[0].SdcID == "" {
		t.Errorf("state %+v %v", st, err)
	}
	raw, _ := json.Marshal(st)
	if strings.Contains(string(raw), string(c.CmcKey)) {
		t.Error("the state shows the communication key")
	}
}

func TestFlags(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("sim etims", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.AddFlags(fs)
	if err := fs.Parse([]string{"--rate-b", "15", "--timeout-count", "2", "--result", "5=910", "--result", "6=999", "--fault-operation", "save_sale", "--reinitialise"}); err != nil {
		t.Fatal(err)
	}
	if c.Rates.B.String() != "15" || c.Rates.E.String() != "8" || c.Faults.TimeoutCount != 2 || c.Faults.Results[5] != "910" || c.Faults.Results[6] != "999" ||
		!reflect.DeepEqual(c.Faults.Operations, []etims.Operation{etims.OpSaveSale}) || !c.Reinitialise {
		t.Errorf("config %+v", c)
	}
	for _, bad := range [][]string{{"--result", "5:910"}, {"--result", "0=910"}, {"--rate-e", "100"}, {"--fault-operation", "sales"}} {
		var c Config
		fs := flag.NewFlagSet("sim etims", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.AddFlags(fs)
		if err := fs.Parse(bad); err == nil {
			t.Errorf("%q was taken", bad)
		}
	}
}

// HoldRequests keeps requests in flight until released.
func TestHoldRequests(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.unit(etims.OSCU)
	release := h.sim.HoldRequests()
	done := make(chan error, 1)
	go func() {
		_, _, err := c.CodeList(ctx, time.Time{})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("a held request answered: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil {
		t.Errorf("after the release: %v", err)
	}
}
