package ofdsim

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/egsd/egsd/stamping/kz"
)

// AddFlags registers the flags that set c for `egsd sim ofd`: --id,
// --token, --rotate-documents-only, --shift-limit, --consumer-host, and the
// faults: --latency, --drop-count, --reset-count, --down, --result (a
// result code for the next request, may repeat), --unknown-field.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	fs.Func("id", "the one KKM `id` the OFD knows (default: any id, registered at its first request)", func(v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return fmt.Errorf("--id %q: want a KKM id from 1 to %d", v, uint32(1<<32-1))
		}
		c.ID = uint32(n)
		return nil
	})
	fs.Func("token", "the KKM's first `token` (default: the token of its first request)", func(v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return fmt.Errorf("--token %q: want a token from 1 to %d", v, uint32(1<<32-1))
		}
		c.Token = uint32(n)
		return nil
	})
	fs.BoolVar(&c.RotateDocumentsOnly, "rotate-documents-only", false, "issue a new token only on TICKET and CLOSE_SHIFT (default: on every answer)")
	fs.Func("shift-limit", "how long a shift may stay open before tickets get result 11 (`duration`, default 24h)", func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("--shift-limit %q: want a positive duration such as 24h", v)
		}
		c.ShiftLimit = d
		return nil
	})
	fs.StringVar(&c.ConsumerHost, "consumer-host", "", "base of the consumer QR URL (default http://consumer.test-oofd.kz)")
	f := &c.Faults
	fs.Func("latency", "delay every answer by `duration`", func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("--latency %q: want a duration such as 20ms", v)
		}
		f.Latency = d
		return nil
	})
	fs.Func("drop-count", "process the next `n` requests and close the connection without answering", func(v string) error {
		return count("--drop-count", v, &f.DropCount)
	})
	fs.Func("reset-count", "reset the next `n` connections before reading them", func(v string) error {
		return count("--reset-count", v, &f.ResetCount)
	})
	fs.BoolVar(&f.Down, "down", false, "start with the OFD unreachable (every connection reset); on Unix, SIGUSR1 toggles down and up")
	fs.Func("result", "answer the next request with result `code` without processing it (254, 255, 11 …); may repeat", func(v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fmt.Errorf("--result %q: want a result code such as 254", v)
		}
		if n == 0 {
			return errors.New("--result 0: 0 is success; a fault needs a failure code")
		}
		f.Results = append(f.Results, kz.ResultCode(n))
		return nil
	})
	fs.BoolVar(&f.UnknownField, "unknown-field", false, "add an unknown field 11 to every answer, as the real test server does")
}

func count(flagName, v string, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 1_000_000 {
		return fmt.Errorf("%s %q: want a count from 0 to 1000000", flagName, v)
	}
	*dst = n
	return nil
}
