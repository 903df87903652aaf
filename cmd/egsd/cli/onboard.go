package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/egsd/egsd/agent"
)

// onboardTimeout is how long `egsd onboard` waits for the agent's answer:
// the agent bounds the run by agent.OnboardingTimeout.
const onboardTimeout = agent.OnboardingTimeout + time.Minute

func runOnboard(ctx context.Context, io IO, args []string) error {
	fs := newFlags(io, "onboard", "onboard --otp NNNNNN [--renew] | onboard --status")
	otp := fs.String("otp", "", "one-time password from the authority's portal (ZATCA: Fatoora portal, 6 digits)")
	renew := fs.Bool("renew", false, "renew the certificate of an onboarded unit")
	status := fs.Bool("status", false, "show where onboarding stands and change nothing")
	af := addAPIFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("onboard takes no arguments; give the OTP with --otp")
	}
	if *status && (*otp != "" || *renew) {
		return usagef("--status shows the onboarding; it takes neither --otp nor --renew")
	}
	c, err := af.client(io, true)
	if err != nil {
		return err
	}
	if *status {
		var v agent.OnboardingView
		if err := c.get(ctx, "/v1/onboarding", &v); err != nil {
			return err
		}
		printOnboardingStatus(io, v)
		return nil
	}
	if *otp == "" {
		fmt.Fprintln(io.Stderr, "no --otp given: resuming without one (a step that requests a certificate needs it)")
	}
	c.http.Timeout = onboardTimeout
	body, err := json.Marshal(map[string]any{"otp": *otp, "renew": *renew})
	if err != nil {
		return err
	}
	what := "onboarding"
	if *renew {
		what = "renewal"
	}
	fmt.Fprintf(io.Stdout, "%s: running (up to %s)…\n", what, agent.OnboardingTimeout)
	v, failed, err := postOnboarding(ctx, c, body)
	if err != nil {
		return err
	}
	for _, s := range v.Steps {
		fmt.Fprintf(io.Stdout, "  %-19s %s\n", s.State, s.Summary)
	}
	if failed != nil {
		for _, m := range v.Messages {
			fmt.Fprintf(io.Stderr, "  authority: %s\n", m)
		}
		again := "egsd onboard --otp NNNNNN"
		if *renew {
			again = "egsd onboard --renew --otp NNNNNN"
		}
		fmt.Fprintf(io.Stderr, "The completed steps are kept: fix the cause (get a new OTP if it was refused) and run '%s' again.\n", again)
		step := v.Step
		if step == "" {
			step = "a step"
		}
		return fmt.Errorf("%s failed at %s: %s", what, step, cmpOrString(v.LastError, failed.Detail))
	}
	fmt.Fprintf(io.Stdout, "%s %s", what, v.State)
	if !v.NotAfter.IsZero() {
		fmt.Fprintf(io.Stdout, ": certificate valid until %s", v.NotAfter.Local().Format("2006-01-02 15:04"))
	}
	fmt.Fprintln(io.Stdout)
	return nil
}

// postOnboarding sends POST /v1/onboarding. A failed step (502) is not an
// error here: it returns the status with the problem, so that the steps
// completed before the failure can be shown.
func postOnboarding(ctx context.Context, c *client, body []byte) (agent.OnboardingView, *agent.Problem, error) {
	var v agent.OnboardingView
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/onboarding", bytes.NewReader(body))
	if err != nil {
		return v, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		err = c.transportError(err)
		if _, sent := err.(*noAnswerError); sent {
			return v, nil, fmt.Errorf("%w (the onboarding may still be running: see 'egsd onboard --status')", err)
		}
		return v, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return v, nil, err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		if err := json.Unmarshal(data, &v); err != nil {
			return v, nil, fmt.Errorf("unexpected answer from the agent: %w", err)
		}
		return v, nil, nil
	case resp.StatusCode == http.StatusBadGateway:
		var p agent.OnboardingProblem
		if err := json.Unmarshal(data, &p); err != nil {
			return v, nil, fmt.Errorf("unexpected answer from the agent: %w", err)
		}
		return p.Onboarding, &p.Problem, nil
	}
	e := &apiError{Status: resp.StatusCode}
	json.Unmarshal(data, &e.Problem)
	var msg []string
	for _, fe := range e.Problem.Errors {
		msg = append(msg, fe.Error())
	}
	if len(msg) > 0 && e.Problem.Detail == "" {
		e.Problem.Detail = strings.Join(msg, "; ")
	}
	return v, nil, e
}

func printOnboardingStatus(io IO, v agent.OnboardingView) {
	fmt.Fprintf(io.Stdout, "state        %s", v.State)
	if v.Renewal {
		fmt.Fprint(io.Stdout, " (renewal)")
	}
	fmt.Fprintln(io.Stdout)
	if v.Summary != "" {
		fmt.Fprintf(io.Stdout, "summary      %s\n", v.Summary)
	}
	if len(v.Completed) > 0 {
		fmt.Fprintf(io.Stdout, "completed    %s\n", strings.Join(v.Completed, ", "))
	}
	if v.Step != "" {
		fmt.Fprintf(io.Stdout, "next step    %s\n", v.Step)
	}
	if v.LastError != "" {
		fmt.Fprintf(io.Stdout, "last error   %s\n", v.LastError)
		for _, m := range v.Messages {
			fmt.Fprintf(io.Stdout, "  authority: %s\n", m)
		}
	}
	if !v.NotAfter.IsZero() {
		fmt.Fprintf(io.Stdout, "certificate  valid until %s", v.NotAfter.Local().Format("2006-01-02 15:04"))
		if v.RenewalDue {
			fmt.Fprint(io.Stdout, " — renewal due: egsd onboard --renew --otp NNNNNN")
		}
		fmt.Fprintln(io.Stdout)
	}
}

func cmpOrString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
