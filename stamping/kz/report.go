package kz

import (
	"errors"
	"fmt"
)

// ReportType is ReportTypeEnum: Z is 0 and must be on the wire as 0.
type ReportType uint32

// The report types.
const (
	ReportZ ReportType = 0
	ReportX ReportType = 1
)

// CloseShiftRequest closes the shift with its Z report.
type CloseShiftRequest struct {
	CloseTime   DateTime
	IsOffline   bool
	ShiftNumber uint32
	ZReport     *ZXReport
	Operator    *Operator
}

func (c *CloseShiftRequest) encode(e *encoder) {
	e.message(1, c.CloseTime.encode)
	e.optBool(2, c.IsOffline)
	e.optUint(3, uint64(c.ShiftNumber))
	if c.ZReport != nil {
		e.message(5, c.ZReport.encode)
	}
	if c.Operator != nil {
		e.message(6, c.Operator.encode)
	}
}

func (c *CloseShiftRequest) decode(b []byte, depth int) error {
	r := required{msg: "CloseShiftRequest"}
	err := fields(b, func(f field) (err error) {
		switch f.num {
		case 1:
			r.saw(1)
			err = f.sub(&c.CloseTime, depth)
		case 2:
			c.IsOffline, err = f.bool()
		case 3:
			c.ShiftNumber, err = f.uint32()
		case 5:
			c.ZReport = &ZXReport{}
			err = f.sub(c.ZReport, depth)
		case 6:
			c.Operator = &Operator{}
			err = f.sub(c.Operator, depth)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("CloseShiftRequest: %w", err)
	}
	return r.need(1, "close_time")
}

// ReportRequest asks for an X report (or a Z report without closing).
type ReportRequest struct {
	Report    ReportType
	DateTime  DateTime
	IsOffline bool
	ZXReport  *ZXReport
}

func (q *ReportRequest) encode(e *encoder) {
	e.uint(1, uint64(q.Report))
	e.message(2, q.DateTime.encode)
	e.optBool(3, q.IsOffline)
	if q.ZXReport != nil {
		e.message(4, q.ZXReport.encode)
	}
}

func (q *ReportRequest) decode(b []byte, depth int) error {
	r := required{msg: "ReportRequest"}
	err := fields(b, func(f field) (err error) {
		switch f.num {
		case 1:
			var v uint32
			v, err = f.uint32()
			q.Report = ReportType(v)
		case 2:
			err = f.sub(&q.DateTime, depth)
		case 3:
			q.IsOffline, err = f.bool()
		case 4:
			q.ZXReport = &ZXReport{}
			err = f.sub(q.ZXReport, depth)
		default:
			return nil
		}
		r.saw(f.num)
		return err
	})
	if err != nil {
		return fmt.Errorf("ReportRequest: %w", err)
	}
	return errors.Join(r.need(1, "report"), r.need(2, "date_time"))
}

// ReportResponse is the OFD's report: on REPORT, CLOSE_SHIFT and INFO.
type ReportResponse struct {
	Report   ReportType
	ZXReport *ZXReport
}

func (q *ReportResponse) encode(e *encoder) {
	e.uint(1, uint64(q.Report))
	if q.ZXReport != nil {
		e.message(2, q.ZXReport.encode)
	}
}

func (q *ReportResponse) decode(b []byte, depth int) error {
	r := required{msg: "ReportResponse"}
	err := fields(b, func(f field) (err error) {
		switch f.num {
		case 1:
			var v uint32
			v, err = f.uint32()
			q.Report = ReportType(v)
			r.saw(1)
		case 2:
			q.ZXReport = &ZXReport{}
			err = f.sub(q.ZXReport, depth)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("ReportResponse: %w", err)
	}
	return r.need(1, "report")
}

// OperationSum is ZXReport.Operation (and NonNullableSum, whose count is
// left out): an operation's count and sum.
type OperationSum struct {
	Operation Operation
	Count     uint32
	Sum       Money
}

// Section is the turnover of one section (department).
type Section struct {
	Code       string
	Operations []OperationSum
}

// TaxTotal is the VAT of one rate: per operation the turnover (with
// VAT), the VAT and the turnover without VAT.
type TaxTotal struct {
	TaxType    uint32
	Percent    uint32
	Operations []TaxOperation
}

// TaxOperation is one operation's turnover at one rate.
type TaxOperation struct {
	Operation          Operation
	Turnover           Money
	Sum                Money
	TurnoverWithoutTax Money
}

// PaymentSum is the payments of one type within an operation.
type PaymentSum struct {
	Type  PaymentType
	Sum   Money
	Count uint32
}

// TicketOperation is the tickets of one operation.
type TicketOperation struct {
	Operation         Operation
	TicketsTotalCount uint32 // since registration
	TicketsCount      uint32 // in the shift
	TicketsSum        Money
	Payments          []PaymentSum
	OfflineCount      uint32
	DiscountSum       Money
	MarkupSum         Money
	ChangeSum         Money
}

// ZXReport is the X or Z report the KKM computes from its own journal
// (spec §2.5, §3.4); the OFD returns one too since 2.0.3.
type ZXReport struct {
	DateTime                  DateTime
	ShiftNumber               uint32
	Sections                  []Section
	Operations                []OperationSum
	Discounts                 []OperationSum
	Markups                   []OperationSum
	TotalResult               []OperationSum
	Taxes                     []TaxTotal
	StartShiftNonNullableSums []OperationSum
	TicketOperations          []TicketOperation
	CashSum                   Money
	Revenue                   Money
	RevenueIsNegative         bool
	NonNullableSums           []OperationSum
	OpenShiftTime             DateTime
	CloseShiftTime            DateTime // zero (left out) on an X report
	Checksum                  string
}

func encodeOperationSum(e *encoder, num int, list []OperationSum) {
	for _, o := range list {
		e.message(num, func(e *encoder) {
			e.uint(1, uint64(o.Operation))
			e.uint(2, uint64(o.Count))
			e.message(3, o.Sum.encode)
		})
	}
}

// encodeNonNullable writes NonNullableSum, which has no count.
func encodeNonNullable(e *encoder, num int, list []OperationSum) {
	for _, o := range list {
		e.message(num, func(e *encoder) {
			e.uint(1, uint64(o.Operation))
			e.message(2, o.Sum.encode)
		})
	}
}

func (z *ZXReport) encode(e *encoder) {
	z.encodeWithoutChecksum(e)
	e.optString(18, z.Checksum)
}

func (z *ZXReport) encodeWithoutChecksum(e *encoder) {
	e.message(1, z.DateTime.encode)
	e.uint(2, uint64(z.ShiftNumber))
	for _, s := range z.Sections {
		e.message(3, func(e *encoder) {
			e.string(1, s.Code)
			encodeOperationSum(e, 2, s.Operations)
		})
	}
	encodeOperationSum(e, 4, z.Operations)
	encodeOperationSum(e, 5, z.Discounts)
	encodeOperationSum(e, 6, z.Markups)
	encodeOperationSum(e, 7, z.TotalResult)
	for _, t := range z.Taxes {
		e.message(8, func(e *encoder) {
			e.uint(1, uint64(t.TaxType))
			e.uint(2, uint64(t.Percent))
			for _, o := range t.Operations {
				e.message(3, func(e *encoder) {
					e.uint(1, uint64(o.Operation))
					e.message(2, o.Turnover.encode)
					e.message(3, o.Sum.encode)
					e.message(4, o.TurnoverWithoutTax.encode)
				})
			}
		})
	}
	encodeNonNullable(e, 9, z.StartShiftNonNullableSums)
	for _, t := range z.TicketOperations {
		e.message(10, func(e *encoder) {
			e.uint(1, uint64(t.Operation))
			e.uint(2, uint64(t.TicketsTotalCount))
			e.uint(3, uint64(t.TicketsCount))
			e.message(4, t.TicketsSum.encode)
			for _, p := range t.Payments {
				e.message(5, func(e *encoder) {
					e.uint(1, uint64(p.Type))
					e.message(2, p.Sum.encode)
					e.uint(3, uint64(p.Count))
				})
			}
			e.uint(6, uint64(t.OfflineCount))
			e.message(7, t.DiscountSum.encode)
			e.message(8, t.MarkupSum.encode)
			e.message(9, t.ChangeSum.encode)
		})
	}
	e.message(13, z.CashSum.encode)
	e.message(14, func(e *encoder) {
		e.message(1, z.Revenue.encode)
		e.bool(2, z.RevenueIsNegative)
	})
	encodeNonNullable(e, 15, z.NonNullableSums)
	if !z.OpenShiftTime.IsZero() {
		e.message(16, z.OpenShiftTime.encode)
	}
	if !z.CloseShiftTime.IsZero() {
		e.message(17, z.CloseShiftTime.encode)
	}
}

func (z *ZXReport) decode(b []byte, depth int) error {
	r := required{msg: "ZXReport"}
	err := fields(b, func(f field) (err error) {
		switch f.num {
		case 1:
			err = f.sub(&z.DateTime, depth)
		case 2:
			z.ShiftNumber, err = f.uint32()
		case 3:
			var s Section
			err = f.sub((*sectionOf)(&s), depth)
			z.Sections = append(z.Sections, s)
		case 4, 5, 6, 7:
			var o OperationSum
			err = f.sub((*operationSumOf)(&o), depth)
			list := map[int]*[]OperationSum{4: &z.Operations, 5: &z.Discounts, 6: &z.Markups, 7: &z.TotalResult}[f.num]
			*list = append(*list, o)
		case 8:
			var t TaxTotal
			err = f.sub((*taxTotalOf)(&t), depth)
			z.Taxes = append(z.Taxes, t)
		case 9, 15:
			var o OperationSum
			err = f.sub((*nonNullableOf)(&o), depth)
			if f.num == 9 {
				z.StartShiftNonNullableSums = append(z.StartShiftNonNullableSums, o)
			} else {
				z.NonNullableSums = append(z.NonNullableSums, o)
			}
		case 10:
			var t TicketOperation
			err = f.sub((*ticketOperationOf)(&t), depth)
			z.TicketOperations = append(z.TicketOperations, t)
		case 13:
			err = f.sub(&z.CashSum, depth)
		case 14:
			err = f.sub((*revenueOf)(z), depth)
		case 16:
			err = f.sub(&z.OpenShiftTime, depth)
		case 17:
			err = f.sub(&z.CloseShiftTime, depth)
		case 18:
			z.Checksum, err = f.string()
		default:
			return nil
		}
		r.saw(f.num)
		return err
	})
	if err != nil {
		return fmt.Errorf("ZXReport: %w", err)
	}
	return errors.Join(r.need(1, "date_time"), r.need(2, "shift_number"), r.need(13, "cash_sum"), r.need(14, "revenue"))
}

type sectionOf Section

func (s *sectionOf) decode(b []byte, depth int) error {
	r := required{msg: "Section"}
	err := fields(b, func(f field) (err error) {
		switch f.num {
		case 1:
			r.saw(1)
			s.Code, err = f.string()
		case 2:
			var o OperationSum
			err = f.sub((*operationSumOf)(&o), depth)
			s.Operations = append(s.Operations, o)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("Section: %w", err)
	}
	return r.need(1, "section_code")
}

type operationSumOf OperationSum

func (o *operationSumOf) decode(b []byte, depth int) error {
	r := required{msg: "Operation"}
	err := fields(b, func(f field) (err error) {
		switch f.num {
		case 1:
			var v uint32
			v, err = f.uint32()
			o.Operation = Operation(v)
		case 2:
			o.Count, err = f.uint32()
		case 3:
			err = f.sub(&o.Sum, depth)
		default:
			return nil
		}
		r.saw(f.num)
		return err
	})
	if err != nil {
		return fmt.Errorf("Operation: %w", err)
	}
	return errors.Join(r.need(1, "operation"), r.need(2, "count"), r.need(3, "sum"))
}

type nonNullableOf OperationSum

func (o *nonNullableOf) decode(b []byte, depth int) error {
	return decodeMessage(b, "NonNullableSum", func(f field) (known bool, err error) {
		switch f.num {
		case 1:
			var v uint32
			v, err = f.uint32()
			o.Operation = Operation(v)
		case 2:
			err = f.sub(&o.Sum, depth)
		default:
			return false, nil
		}
		return true, err
	}, need{1, "operation"}, need{2, "sum"})
}

type taxTotalOf TaxTotal

func (t *taxTotalOf) decode(b []byte, depth int) error {
	return decodeMessage(b, "ZXReport.Tax", func(f field) (known bool, err error) {
		switch f.num {
		case 1:
			t.TaxType, err = f.uint32()
		case 2:
			t.Percent, err = f.uint32()
		case 3:
			var o TaxOperation
			err = f.sub((*taxOperationOf)(&o), depth)
			t.Operations = append(t.Operations, o)
		default:
			return false, nil
		}
		return true, err
	}, need{1, "tax_type"}, need{2, "percent"})
}

type taxOperationOf TaxOperation

func (o *taxOperationOf) decode(b []byte, depth int) error {
	return decodeMessage(b, "TaxOperation", func(f field) (known bool, err error) {
		switch f.num {
		case 1:
			var v uint32
			v, err = f.uint32()
			o.Operation = Operation(v)
		case 2:
			err = f.sub(&o.Turnover, depth)
		case 3:
			err = f.sub(&o.Sum, depth)
		case 4:
			err = f.sub(&o.TurnoverWithoutTax, depth)
		default:
			return false, nil
		}
		return true, err
	}, need{1, "operation"}, need{2, "turnover"}, need{3, "sum"})
}

type ticketOperationOf TicketOperation

func (t *ticketOperationOf) decode(b []byte, depth int) error {
	return decodeMessage(b, "TicketOperation", func(f field) (known bool, err error) {
		switch f.num {
		case 1:
			var v uint32
			v, err = f.uint32()
			t.Operation = Operation(v)
		case 2:
			t.TicketsTotalCount, err = f.uint32()
		case 3:
			t.TicketsCount, err = f.uint32()
		case 4:
			err = f.sub(&t.TicketsSum, depth)
		case 5:
			var p PaymentSum
			err = f.sub((*paymentSumOf)(&p), depth)
			t.Payments = append(t.Payments, p)
		case 6:
			t.OfflineCount, err = f.uint32()
		case 7:
			err = f.sub(&t.DiscountSum, depth)
		case 8:
			err = f.sub(&t.MarkupSum, depth)
		case 9:
			err = f.sub(&t.ChangeSum, depth)
		default:
			return false, nil
		}
		return true, err
	}, need{1, "operation"}, need{2, "tickets_total_count"}, need{3, "tickets_count"}, need{4, "tickets_sum"})
}

type paymentSumOf PaymentSum

func (p *paymentSumOf) decode(b []byte, depth int) error {
	return decodeMessage(b, "TicketOperation.Payment", func(f field) (known bool, err error) {
		switch f.num {
		case 1:
			var v uint32
			v, err = f.uint32()
			p.Type = PaymentType(v)
		case 2:
			err = f.sub(&p.Sum, depth)
		case 3:
			p.Count, err = f.uint32()
		default:
			return false, nil
		}
		return true, err
	}, need{1, "payment"}, need{2, "sum"})
}

type revenueOf ZXReport

func (z *revenueOf) decode(b []byte, depth int) error {
	return decodeMessage(b, "Revenue", func(f field) (known bool, err error) {
		switch f.num {
		case 1:
			err = f.sub(&z.Revenue, depth)
		case 2:
			z.RevenueIsNegative, err = f.bool()
		default:
			return false, nil
		}
		return true, err
	}, need{1, "sum"}, need{2, "is_negative"})
}
