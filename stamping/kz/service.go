package kz

import (
	"errors"
	"fmt"
)

// OfflinePeriod is the period the KKM spent in autonomous mode; online it
// is sent with begin = end (required since 2.0.1).
type OfflinePeriod struct {
	Begin, End DateTime
}

// KkmRegInfo identifies the KKM: FnsKkmID is the RNM (registration number
// with the tax authority, 12 digits, the QR's f=), SerialNumber the ZNM
// (factory number), KkmID the OFD's internal id.
type KkmRegInfo struct {
	PointOfPaymentNumber string
	TerminalNumber       string
	FnsKkmID             string
	SerialNumber         string
	KkmID                string
}

// PosRegInfo is the place of use.
type PosRegInfo struct {
	Title, Address, AddressKZ string
	Latitude, Longitude       uint32
}

// OrgRegInfo is the taxpayer: INN is its BIN or IIN, Okved its activity
// code.
type OrgRegInfo struct {
	Title, Address, INN, Okved, AddressKZ string
}

// ServiceRequest accompanies a command, or is the whole of SYSTEM and
// INFO. Its RegInfo numbers org 2 (the response's numbers it 3, §0.8).
type ServiceRequest struct {
	OfflinePeriod *OfflinePeriod
	// GetRegInfo is always on the wire (required since 2.0.1).
	GetRegInfo bool
	Kkm        *KkmRegInfo
	Org        *OrgRegInfo
}

// ServiceResponse carries the registration data (on INFO, or when asked).
type ServiceResponse struct {
	Kkm *KkmRegInfo
	Pos *PosRegInfo
	Org *OrgRegInfo
}

func (k *KkmRegInfo) encode(e *encoder) {
	// point_of_payment_number and terminal_number are required: on the
	// wire even when empty.
	e.string(1, k.PointOfPaymentNumber)
	e.string(2, k.TerminalNumber)
	e.optString(3, k.FnsKkmID)
	e.optString(4, k.SerialNumber)
	e.optString(5, k.KkmID)
}

func (k *KkmRegInfo) decode(b []byte, _ int) error {
	r := required{msg: "KkmRegInfo"}
	err := fields(b, func(f field) (err error) {
		p := map[int]*string{1: &k.PointOfPaymentNumber, 2: &k.TerminalNumber, 3: &k.FnsKkmID, 4: &k.SerialNumber, 5: &k.KkmID}[f.num]
		if p != nil {
			r.saw(f.num)
			*p, err = f.string()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("KkmRegInfo: %w", err)
	}
	return errors.Join(r.need(1, "point_of_payment_number"), r.need(2, "terminal_number"))
}

func (p *PosRegInfo) encode(e *encoder) {
	e.optString(1, p.Title)
	e.optString(2, p.Address)
	e.optString(3, p.AddressKZ)
	e.optUint(4, uint64(p.Latitude))
	e.optUint(5, uint64(p.Longitude))
}

func (p *PosRegInfo) decode(b []byte, _ int) error {
	return fields(b, func(f field) (err error) {
		switch f.num {
		case 1:
			p.Title, err = f.string()
		case 2:
			p.Address, err = f.string()
		case 3:
			p.AddressKZ, err = f.string()
		case 4:
			p.Latitude, err = f.uint32()
		case 5:
			p.Longitude, err = f.uint32()
		}
		return err
	})
}

func (o *OrgRegInfo) encode(e *encoder) {
	e.optString(1, o.Title)
	e.optString(2, o.Address)
	e.optString(3, o.INN)
	e.optString(5, o.Okved)
	e.optString(6, o.AddressKZ)
}

func (o *OrgRegInfo) decode(b []byte, _ int) error {
	return fields(b, func(f field) (err error) {
		p := map[int]*string{1: &o.Title, 2: &o.Address, 3: &o.INN, 5: &o.Okved, 6: &o.AddressKZ}[f.num]
		if p != nil {
			*p, err = f.string()
		}
		return err
	})
}

func (s *ServiceRequest) encode(e *encoder) {
	if p := s.OfflinePeriod; p != nil {
		e.message(4, func(e *encoder) {
			e.message(1, p.Begin.encode)
			e.message(2, p.End.encode)
		})
	}
	e.bool(7, s.GetRegInfo)
	if s.Kkm != nil || s.Org != nil {
		e.message(12, func(e *encoder) {
			if s.Kkm != nil {
				e.message(1, s.Kkm.encode)
			}
			if s.Org != nil {
				e.message(2, s.Org.encode)
			}
		})
	}
}

func (s *ServiceRequest) decode(b []byte, depth int) error {
	err := fields(b, func(f field) (err error) {
		switch f.num {
		case 4:
			s.OfflinePeriod = &OfflinePeriod{}
			err = f.sub((*offlinePeriodOf)(s.OfflinePeriod), depth)
		case 7:
			s.GetRegInfo, err = f.bool()
		case 12:
			err = f.sub((*requestRegInfo)(s), depth)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("ServiceRequest: %w", err)
	}
	return nil
}

type offlinePeriodOf OfflinePeriod

func (p *offlinePeriodOf) decode(b []byte, depth int) error {
	return decodeMessage(b, "OfflinePeriod", func(f field) (known bool, err error) {
		switch f.num {
		case 1:
			err = f.sub(&p.Begin, depth)
		case 2:
			err = f.sub(&p.End, depth)
		default:
			return false, nil
		}
		return true, err
	}, need{1, "begin_time"}, need{2, "end_time"})
}

// requestRegInfo is ServiceRequest.RegInfo: kkm 1, org 2.
type requestRegInfo ServiceRequest

func (s *requestRegInfo) decode(b []byte, depth int) error {
	return fields(b, func(f field) error {
		switch f.num {
		case 1:
			s.Kkm = &KkmRegInfo{}
			return f.sub(s.Kkm, depth)
		case 2:
			s.Org = &OrgRegInfo{}
			return f.sub(s.Org, depth)
		}
		return nil
	})
}

func (s *ServiceResponse) encode(e *encoder) {
	if s.Kkm == nil && s.Pos == nil && s.Org == nil {
		return
	}
	// ServiceResponse.RegInfo: kkm 1, pos 2, org 3.
	e.message(2, func(e *encoder) {
		if s.Kkm != nil {
			e.message(1, s.Kkm.encode)
		}
		if s.Pos != nil {
			e.message(2, s.Pos.encode)
		}
		if s.Org != nil {
			e.message(3, s.Org.encode)
		}
	})
}

func (s *ServiceResponse) decode(b []byte, depth int) error {
	err := fields(b, func(f field) error {
		if f.num == 2 {
			return f.sub((*responseRegInfo)(s), depth)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ServiceResponse: %w", err)
	}
	return nil
}

type responseRegInfo ServiceResponse

func (s *responseRegInfo) decode(b []byte, depth int) error {
	return fields(b, func(f field) error {
		switch f.num {
		case 1:
			s.Kkm = &KkmRegInfo{}
			return f.sub(s.Kkm, depth)
		case 2:
			s.Pos = &PosRegInfo{}
			return f.sub(s.Pos, depth)
		case 3:
			s.Org = &OrgRegInfo{}
			return f.sub(s.Org, depth)
		}
		return nil
	})
}
