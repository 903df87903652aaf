package etims_test

import (
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/stamping/etims"
)

// The answers KRA is known to send (spec/etims.md §A4.2): OSCU's save
// answer (receipt numbers as strings in the paybill document, as numbers
// elsewhere), VSCU's, and selectInvoiceDetails' with its other date form.
const (
	oscuSave = `{"resultCd":"000","resultMsg":"It is succeeded","resultDt":"20200226194328","data":{"curRcptNo":"1","totRcptNo":"1","intrlData":"EAHSAV6ECUUXSY6PCCJYAUP6MI","rcptSign":"QUII27MATATSHFRB","sdcDateTime":"20210502115145"}}`
	vscuSave = `{"resultCd":"000","resultMsg":"It is succeeded","resultDt":"20240101120000","data":{"rcptNo":27,"totRcptNo":31,"intrlData":"ABCDABCDABCDABCDABCDABCDAB","rcptSign":"SIGNSIGNSIGNSIGN","sdcId":"KRACU0100000001","mrcNo":"WIS00000001","vsdcRcptPbctDate":"20240101120001"}}`
	lookup   = `{"resultCd":"000","resultMsg":"Successful","resultDt":"20240415000000","data":{"salesList":[{"invcNo":2,"orgInvcNo":0,"itemList":[{"itemCd":false}],"modrId":null,"receipt":{"custTin":"A000123456F","curRcptNo":169,"totRcptNo":169,"intrlData":"GRKJVWYCFBPTYQ225X2UEYONVE","rcptSign":"123456789ODOOGR3","sdcDateTime":"2024-04-15 15:30:39.0"}}]}}`
)

func TestDecodeSignature(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		invcNo int64
		want   etims.Signature
	}{
		{"OSCU save", oscuSave, 0, etims.Signature{CurRcptNo: 1, TotRcptNo: 1, IntrlData: "EAHSAV6ECUUXSY6PCCJYAUP6MI", RcptSign: "QUII27MATATSHFRB",
			SdcDateTime: nairobi("2021-05-02 11:51:45")}},
		{"VSCU save", vscuSave, 0, etims.Signature{CurRcptNo: 27, TotRcptNo: 31, IntrlData: "ABCDABCDABCDABCDABCDABCDAB", RcptSign: "SIGNSIGNSIGNSIGN",
			SdcDateTime: nairobi("2024-01-01 12:00:01"), SdcID: "KRACU0100000001", MrcNo: "WIS00000001"}},
		{"lookup", lookup, 2, etims.Signature{InvcNo: 2, CurRcptNo: 169, TotRcptNo: 169, IntrlData: "GRKJVWYCFBPTYQ225X2UEYONVE", RcptSign: "123456789ODOOGR3",
			SdcDateTime: nairobi("2024-04-15 15:30:39")}},
	} {
		got, err := etims.DecodeSignature([]byte(tc.body), tc.invcNo)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !got.SdcDateTime.Equal(tc.want.SdcDateTime) {
			t.Errorf("%s: time %v, want %v", tc.name, got.SdcDateTime, tc.want.SdcDateTime)
		}
		got.SdcDateTime = tc.want.SdcDateTime
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func TestDecodeSignatureRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		body   string
		invcNo int64
		want   string
	}{
		"not JSON":            {`<html>`, 0, "envelope"},
		"994":                 {`{"resultCd":"994","resultMsg":"There is an overlapped Data","data":null}`, 0, "994"},
		"no data":             {`{"resultCd":"000"}`, 0, "not a signature"},
		"no signature":        {strings.Replace(oscuSave, `"rcptSign":"QUII27MATATSHFRB",`, "", 1), 0, "rcptSign"},
		"no internal data":    {strings.Replace(oscuSave, `"EAHSAV6ECUUXSY6PCCJYAUP6MI"`, `""`, 1), 0, "intrlData"},
		"receipt number 0":    {strings.Replace(oscuSave, `"curRcptNo":"1"`, `"curRcptNo":0`, 1), 0, "receipt number"},
		"receipt number text": {strings.Replace(oscuSave, `"curRcptNo":"1"`, `"curRcptNo":"one"`, 1), 0, "whole number"},
		"bad time":            {strings.Replace(oscuSave, `"20210502115145"`, `"2021-13-02"`, 1), 0, "time"},
		"time of 12 digits":   {strings.Replace(oscuSave, `"20210502115145"`, `"202105021151"`, 1), 0, "time"},
		"control characters":  {strings.Replace(oscuSave, `QUII27MATATSHFRB`, `QUII\u001b[2J`, 1), 0, "rcptSign"},
		"signature too long":  {strings.Replace(oscuSave, `QUII27MATATSHFRB`, strings.Repeat("Q", 65), 1), 0, "rcptSign"},
		"lookup of another":   {lookup, 3, "not 3"},
		"lookup of two sales": {strings.Replace(lookup, `"salesList":[{`, `"salesList":[{"invcNo":1},{`, 1), 0, "2 sales"},
	} {
		_, err := etims.DecodeSignature([]byte(tc.body), tc.invcNo)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %q", name, err, tc.want)
		}
	}
}

// SaveAnswer writes what DecodeSignature reads.
func TestSaveAnswerRoundTrip(t *testing.T) {
	s := etims.Signature{CurRcptNo: 5, TotRcptNo: 9, IntrlData: "GRKJVWYCFBPTYQ225X2UEYONVE", RcptSign: "123456789ODOOGR3",
		SdcDateTime: nairobi("2026-01-15 10:30:05"), SdcID: "KRACU0100000001"}
	b, err := etims.SaveAnswer(s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, err := etims.DecodeSignature(b, 0)
	if err != nil || !got.SdcDateTime.Equal(s.SdcDateTime) {
		t.Fatalf("%v %+v", err, got)
	}
	got.SdcDateTime = s.SdcDateTime
	if got != s {
		t.Errorf("round trip %+v, want %+v", got, s)
	}
}

// FuzzDecodeSignature: any body either fails or gives a complete
// signature whose parts are printable tokens, and whose re-encoding
// decodes to the same signature.
func FuzzDecodeSignature(f *testing.F) {
	for _, s := range []string{oscuSave, vscuSave, lookup, `{}`, `{"resultCd":"000","data":{"salesList":[]}}`, `{"resultCd":"000","data":[1]}`} {
		f.Add([]byte(s), int64(0))
		f.Add([]byte(s), int64(2))
	}
	f.Fuzz(func(t *testing.T, body []byte, invcNo int64) {
		sig, err := etims.DecodeSignature(body, invcNo)
		if err != nil {
			return
		}
		if sig.CurRcptNo < 1 || sig.RcptSign == "" || sig.IntrlData == "" || sig.SdcDateTime.IsZero() {
			t.Fatalf("incomplete signature accepted: %+v", sig)
		}
		if invcNo != 0 && sig.InvcNo != 0 && sig.InvcNo != invcNo {
			t.Fatalf("lookup for %d gave %d", invcNo, sig.InvcNo)
		}
		for _, v := range []string{sig.RcptSign, sig.IntrlData, sig.SdcID, sig.MrcNo} {
			for i := 0; i < len(v); i++ {
				if v[i] <= ' ' || v[i] > '~' {
					t.Fatalf("unprintable byte in %q", v)
				}
			}
		}
		again, err := etims.SaveAnswer(sig, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		back, err := etims.DecodeSignature(again, 0)
		if err != nil {
			t.Fatalf("re-encoded signature does not decode: %v", err)
		}
		back.InvcNo = sig.InvcNo
		// The control unit's time is kept to the second.
		if back.SdcDateTime.Equal(sig.SdcDateTime.Truncate(time.Second)) {
			back.SdcDateTime = sig.SdcDateTime
		}
		if back != sig {
			t.Fatalf("round trip %+v, want %+v", back, sig)
		}
	})
}
