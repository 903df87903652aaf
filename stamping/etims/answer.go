package etims

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// MaxAnswer bounds an answer body that egsd reads from KRA or from the
// journal: a sale's answer is a few hundred bytes; a code list some
// hundred kilobytes.
const MaxAnswer = 8 << 20

// Signature is the sales control unit's answer to a sale, what the
// receipt prints (spec/etims.md §A4.2, §A5): the receipt numbers, the
// internal data, the receipt signature and the control unit's time; on
// VSCU also the control unit's ID and MRC number.
type Signature struct {
	// InvcNo is the sale's invcNo as a lookup answer states it; 0 in a
	// save answer, which does not repeat it.
	InvcNo      int64
	CurRcptNo   int64 // the receipt number
	TotRcptNo   int64 // the control unit's total receipt count
	IntrlData   string
	RcptSign    string
	SdcDateTime time.Time // in Nairobi time
	// SdcID and MrcNo come in VSCU answers; an OSCU unit has them from
	// its initialisation.
	SdcID, MrcNo string
}

// signatureData is every shape of a signature KRA sends: OSCU's save
// answer (curRcptNo … sdcDateTime), VSCU's (rcptNo, sdcId, mrcNo,
// vsdcRcptPbctDate) and selectInvoiceDetails' receipt.
type signatureData struct {
	CurRcptNo        *Integer `json:"curRcptNo"`
	RcptNo           *Integer `json:"rcptNo"`
	TotRcptNo        Integer  `json:"totRcptNo"`
	IntrlData        Text     `json:"intrlData"`
	RcptSign         Text     `json:"rcptSign"`
	SdcDateTime      Text     `json:"sdcDateTime"`
	VSDCRcptPbctDate Text     `json:"vsdcRcptPbctDate"`
	SdcID            Text     `json:"sdcId"`
	MrcNo            Text     `json:"mrcNo"`
	SalesList        []struct {
		InvcNo  Integer        `json:"invcNo"`
		Receipt *signatureData `json:"receipt"`
	} `json:"salesList"`
}

// DecodeSignature reads the signature out of a KRA answer body as the
// journal keeps it: a save answer (OSCU or VSCU) or a selectInvoiceDetails
// answer. invcNo, when not 0, is the sale the answer must be for (a lookup
// answer names it; a save answer cannot be checked). The answer must say
// 000 and carry every part of the signature: a receipt number, the
// internal data, the signature and a readable control unit time.
func DecodeSignature(body []byte, invcNo int64) (Signature, error) {
	if len(body) > MaxAnswer {
		return Signature{}, fmt.Errorf("etims: the answer is larger than %d bytes", MaxAnswer)
	}
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Signature{}, fmt.Errorf("etims: the answer is not KRA's JSON envelope: %w", err)
	}
	if env.ResultCd != ResultOK {
		return Signature{}, fmt.Errorf("etims: the answer says %s %s, not %s", env.ResultCd, env.ResultMsg, ResultOK)
	}
	var d signatureData
	if err := json.Unmarshal(env.Data, &d); err != nil {
		return Signature{}, fmt.Errorf("etims: the answer's data is not a signature: %w", err)
	}
	var sig Signature
	if len(d.SalesList) > 0 {
		s := d.SalesList[0]
		if len(d.SalesList) != 1 || s.Receipt == nil {
			return Signature{}, fmt.Errorf("etims: the lookup answer lists %d sales; one with its receipt was expected", len(d.SalesList))
		}
		sig.InvcNo = int64(s.InvcNo)
		if invcNo != 0 && sig.InvcNo != invcNo {
			return Signature{}, fmt.Errorf("etims: the lookup answer is for invcNo %d, not %d", sig.InvcNo, invcNo)
		}
		d = *s.Receipt
	}
	switch {
	case d.CurRcptNo != nil:
		sig.CurRcptNo = int64(*d.CurRcptNo)
	case d.RcptNo != nil:
		sig.CurRcptNo = int64(*d.RcptNo)
	}
	sig.TotRcptNo = int64(d.TotRcptNo)
	sig.IntrlData, sig.RcptSign = string(d.IntrlData), string(d.RcptSign)
	sig.SdcID, sig.MrcNo = string(d.SdcID), string(d.MrcNo)
	when := string(d.SdcDateTime)
	if when == "" {
		when = string(d.VSDCRcptPbctDate)
	}
	var err error
	if sig.SdcDateTime, err = ParseDateTime(when); err != nil {
		return Signature{}, fmt.Errorf("etims: the control unit's time: %w", err)
	}
	return sig, sig.check()
}

// The bounds of a signature's parts: KRA's are 26 (internal data) and 16
// (signature) characters (spec/etims.md §A4.2); the bounds leave room
// without letting an answer print pages of text.
const (
	maxIntrlData = 128
	maxRcptSign  = 64
	maxUnitID    = 64
)

func (s Signature) check() error {
	var errs []error
	if s.CurRcptNo < 1 || s.TotRcptNo < 0 {
		errs = append(errs, fmt.Errorf("receipt number %d (of %d)", s.CurRcptNo, s.TotRcptNo))
	}
	for _, f := range []struct {
		name, v string
		max     int
		need    bool
	}{{"intrlData", s.IntrlData, maxIntrlData, true}, {"rcptSign", s.RcptSign, maxRcptSign, true},
		{"sdcId", s.SdcID, maxUnitID, false}, {"mrcNo", s.MrcNo, maxUnitID, false}} {
		if f.v == "" && !f.need {
			continue
		}
		if !isToken(f.v, f.max) {
			errs = append(errs, fmt.Errorf("%s %q (1 to %d letters, digits or - _ / .)", f.name, f.v, f.max))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("etims: the answer's signature is incomplete or malformed: %w", errors.Join(errs...))
	}
	return nil
}

// isToken reports whether v is 1 to max ASCII letters, digits and - _ / .
// (what a receipt may print of KRA's codes as they are).
func isToken(v string, max int) bool {
	if v == "" || len(v) > max {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '/' || c == '.') {
			return false
		}
	}
	return true
}

// SaveAnswer writes a signature as an OSCU save answer, the form egsd
// keeps when the signature came from a lookup instead (and the simulator
// answers with).
func SaveAnswer(s Signature, resultDt time.Time) ([]byte, error) {
	type data struct {
		CurRcptNo   int64  `json:"curRcptNo"`
		TotRcptNo   int64  `json:"totRcptNo"`
		IntrlData   string `json:"intrlData"`
		RcptSign    string `json:"rcptSign"`
		SdcDateTime string `json:"sdcDateTime"`
		SdcID       string `json:"sdcId,omitempty"`
		MrcNo       string `json:"mrcNo,omitempty"`
	}
	return Marshal(struct {
		ResultCd  string `json:"resultCd"`
		ResultMsg string `json:"resultMsg"`
		ResultDt  string `json:"resultDt"`
		Data      data   `json:"data"`
	}{string(ResultOK), "It is succeeded", FormatDateTime(resultDt), data{s.CurRcptNo, s.TotRcptNo, s.IntrlData, s.RcptSign,
		FormatDateTime(s.SdcDateTime), s.SdcID, s.MrcNo}})
}
