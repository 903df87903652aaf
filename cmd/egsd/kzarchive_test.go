package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egsd/egsd/queue"
	"github.com/egsd/egsd/queue/queuetest"
	"github.com/egsd/egsd/stamping/keystore"
	"github.com/egsd/egsd/stamping/kz"
	"github.com/egsd/egsd/stamping/kz/archive"
	"github.com/egsd/egsd/stamping/money"
	"github.com/egsd/egsd/stamping/sale"
	bolt "go.etcd.io/bbolt"
)

var kzArchiveUnit = archive.Unit{RNM: "620300000011", ZNM: "EGSD-0001", OFDID: 203539, BIN: "940140000385"}

// kzSale is a sale of n loaves and a newspaper, paid in cash.
func kzArchiveSale(n int, kind sale.Kind) *sale.Sale {
	return &sale.Sale{
		Kind: kind, Currency: "KZT",
		Lines: []sale.Line{
			{Name: "Хлеб", Quantity: money.MustParse(fmt.Sprint(n)), UnitPrice: money.MustParse("250"), Category: sale.Standard, Rate: money.MustParse("16"), ItemCode: "02000000000012345"},
			{Name: "Газета «Қазақстан»", Quantity: money.MustParse("1"), UnitPrice: money.MustParse("150"), Category: sale.Exempt, ExemptionReason: "periodicals"},
		},
		Payments: []sale.Payment{{Means: sale.Cash}},
	}
}

// kzUnitStore is a unit's data directory with its archive key and a
// store, holding Kazakh tickets as a regime keeps them: the TICKET request
// as the document, its archive record sealed with the issue when it is
// issued autonomously and with the OFD's answer when it is accepted.
type kzUnitStore struct {
	t     *testing.T
	data  string
	store *queue.Store
	key   *keystore.Key
	at    time.Time
}

func newKZUnitStore(t *testing.T) *kzUnitStore {
	data := t.TempDir()
	key, created, err := archive.LoadOrCreateKey(archive.KeyPath(data))
	if err != nil || !created {
		t.Fatalf("archive key: %v, created %v", err, created)
	}
	s, err := queue.Open(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &kzUnitStore{t: t, data: data, store: s, key: key, at: time.Date(2026, 3, 14, 12, 30, 0, 0, time.FixedZone("UTC+5", 5*3600))}
}

// issue issues s as the shift's document number; autonomous gives it
// that autonomous sign and its record at once.
func (u *kzUnitStore) issue(s *sale.Sale, number, autonomous uint32, parent *kz.ParentTicket, key string) (*queue.Record, *kz.TicketRequest) {
	t := u.t
	t.Helper()
	u.at = u.at.Add(time.Minute)
	ticket, err := kz.BuildTicket(s, kz.TicketInput{IssuedAt: u.at, Operator: kz.Operator{Code: 1, Name: "Кассир"}, ShiftNumber: 7,
		ShiftDocumentNumber: number, OfflineTicketNumber: autonomous, Parent: parent, SellerTaxID: kzArchiveUnit.BIN})
	if err != nil {
		t.Fatal(err)
	}
	doc := (&kz.Request{Command: kz.CommandTicket, Ticket: ticket}).Marshal()
	sum := sha256.Sum256(doc)
	req := &queue.IssueRequest{User: "cashier", IdempotencyKey: key, BodyHash: sum[:], Regime: "kz", GenesisHash: "kz-genesis",
		Kind: string(s.Kind), UUID: queuetest.UUID(), Submit: true,
		Stamp: func(slot queue.Slot) (queue.Stamped, error) {
			st := queue.Stamped{Bytes: doc, ContentType: "application/x-protobuf", Hash: hex.EncodeToString(sum[:])}
			if autonomous == 0 {
				return st, nil
			}
			var err error
			st.Archive, err = archive.Seal(archive.Facts{Unit: kzArchiveUnit, Ticket: ticket, Document: archive.DocumentOf(slot.Counter, slot.UUID, doc)}, u.key)
			return st, err
		}}
	res, err := u.store.Issue(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res.Record, ticket
}

// accept records the OFD's acceptance with its fiscal sign and the record
// that carries it.
func (u *kzUnitStore) accept(rec *queue.Record, ticket *kz.TicketRequest, sign string) {
	u.t.Helper()
	sealed, err := archive.Seal(archive.Facts{Unit: kzArchiveUnit, Ticket: ticket, FiscalSign: sign, Document: archive.DocumentOf(rec.Counter, rec.UUID, rec.Document)}, u.key)
	if err != nil {
		u.t.Fatal(err)
	}
	if err := u.store.RecordAnswer(rec.Counter, queue.Answer{Status: queue.StatusAccepted, At: u.at, Body: []byte(sign), Archive: sealed}); err != nil {
		u.t.Fatal(err)
	}
}

// TestKZArchiveExportVerify puts records of real tickets — online,
// autonomous then accepted, a return, one still unanswered — through the
// store, `egsd journal export` and `egsd verify`: the export is byte for
// byte, verify passes it, and each kind of change to the export fails
// naming the file.
func TestKZArchiveExportVerify(t *testing.T) {
	u := newKZUnitStore(t)
	sell, sellTicket := u.issue(kzArchiveSale(2, sale.Invoice), 1, 0, nil, "a")
	u.accept(sell, sellTicket, "4228143549")
	offline, offlineTicket := u.issue(kzArchiveSale(3, sale.Invoice), 2, 1, nil, "b")
	parent := &kz.ParentTicket{Number: "4228143549", DateTime: sellTicket.DateTime, KgdKkmID: kzArchiveUnit.RNM, Total: sellTicket.Amounts.Total}
	ret, retTicket := u.issue(kzArchiveSale(2, sale.CreditNote), 3, 0, parent, "c")
	u.issue(kzArchiveSale(1, sale.Invoice), 4, 0, nil, "d") // not answered yet: no record
	u.accept(offline, offlineTicket, "4228143550")
	u.accept(ret, retTicket, "4228143551")

	// The store's own check, verifying each record against its document.
	pub := u.key.PublicKeyDER()
	rep, err := u.store.Check(queue.CheckOptions{Archive: func(r queue.ArchiveRecord, doc *queue.Record) error {
		v, err := archive.Verify(r.XML, pub)
		if err != nil {
			return err
		}
		return v.Matches(doc.Counter, doc.UUID, doc.Document)
	}})
	if err != nil || rep.Archive != 4 {
		t.Fatalf("store check: %d records, %v", rep.Archive, err)
	}
	var stored []queue.ArchiveRecord
	for c := uint64(1); c <= 4; c++ {
		recs, err := u.store.Archive(c)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, recs...)
	}
	u.store.Close()

	env := cliEnv(t.TempDir())
	out := filepath.Join(t.TempDir(), "export")
	res := runEgsd(t, env, "journal", "export", "--data", u.data, "--out", out)
	if res.Code != 0 || !strings.Contains(res.Stdout, "exported 4 documents") || !strings.Contains(res.Stdout, "exported 4 signed archive records") {
		t.Fatalf("journal export:\n%s", res)
	}
	if len(stored) != 4 {
		t.Fatalf("%d records stored, want 4", len(stored))
	}
	for _, r := range stored {
		got, err := os.ReadFile(filepath.Join(out, "archive", fmt.Sprintf("%010d-%d.xml", r.Counter, r.Seq)))
		if err != nil || !bytes.Equal(got, r.XML) {
			t.Errorf("record %d/%d exported as %d bytes (%v), stored %d", r.Counter, r.Seq, len(got), err, len(r.XML))
		}
	}
	pemKey, err := os.ReadFile(filepath.Join(out, "archive", archive.PublicKeyFile))
	if der, perr := archive.ParsePublicKeyPEM(pemKey); err != nil || perr != nil || !bytes.Equal(der, pub) {
		t.Fatalf("exported public key: %v %v", err, perr)
	}

	res = runEgsd(t, env, "verify", out)
	if res.Code != 0 || strings.Count(res.Stdout, "OK ") != 4 || strings.Contains(res.Stdout, "FAIL") ||
		!strings.Contains(res.Stdout, "NOTE no archive record for document 4:") ||
		!strings.Contains(res.Stdout, "0000000002-2.xml document 2, shift 7 document 2, total "+offlineTicket.Amounts.Total.String()+", autonomous sign 1, fiscal sign 4228143550") {
		t.Fatalf("verify of the export:\n%s", res)
	}

	t.Logf("verify of the export:\n%s", res.Stdout)

	// The stopped unit's store verifies as its export does, and a record
	// changed in the store fails, named.
	if res := runEgsd(t, env, "verify", "--data", u.data); res.Code != 0 || strings.Count(res.Stdout, "OK record ") != 4 || strings.Contains(res.Stdout, "FAIL") {
		t.Fatalf("verify --data:\n%s", res)
	}
	db, err := bolt.Open(filepath.Join(u.data, queue.FileName), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("archive"))
		key := append(binary.BigEndian.AppendUint64(nil, 3), 0, 0, 0, 1)
		v := bytes.Clone(b.Get(key))
		if v == nil {
			return fmt.Errorf("no archive record 3/1 in the store")
		}
		edited := bytes.Replace(v, []byte(`operation="`+retTicket.Operation.String()+`"`), []byte(`operation="`+kz.OperationSell.String()+`"`), 1)
		if bytes.Equal(edited, v) {
			return fmt.Errorf("record 3/1 has no operation %s", retTicket.Operation)
		}
		return b.Put(key, edited)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res := runEgsd(t, env, "verify", "--data", u.data); res.Code == 0 || strings.Count(res.Stdout, "OK record ") != 3 ||
		!strings.Contains(res.Stdout, "FAIL record 3/1 ") {
		t.Fatalf("verify --data of a changed record:\n%s", res)
	}
	record := func(counter uint64, seq int) string {
		return filepath.Join("archive", fmt.Sprintf("%010d-%d.xml", counter, seq))
	}
	for _, tc := range []struct {
		name  string
		edit  func(t *testing.T, dir string)
		args  []string
		fails map[string]string // file → what its FAIL line says
	}{
		{"a byte of the ticket", func(t *testing.T, dir string) {
			total := sellTicket.Amounts.Total.String()
			replaceIn(t, filepath.Join(dir, record(1, 1)), ` total="`+total+`"`, ` total="`+total[:len(total)-1]+`1"`)
		}, nil, map[string]string{record(1, 1): "digest mismatch"}},
		{"a byte of the signature", func(t *testing.T, dir string) {
			editByte(t, filepath.Join(dir, record(2, 2)), "<SignatureValue>", 10)
		}, nil, map[string]string{record(2, 2): "does not verify"}},
		{"records swapped between documents", func(t *testing.T, dir string) {
			a, b := filepath.Join(dir, record(1, 1)), filepath.Join(dir, record(3, 1))
			da, db := mustRead(t, a), mustRead(t, b)
			mustWrite(t, a, db)
			mustWrite(t, b, da)
		}, nil, map[string]string{record(1, 1): "the record is of document 3, not of document 1", record(3, 1): "the record is of document 1, not of document 3"}},
		{"a byte of a document", func(t *testing.T, dir string) {
			docs, _ := filepath.Glob(filepath.Join(dir, "0000000003-*"))
			if len(docs) != 1 {
				t.Fatalf("document 3 exported as %v", docs)
			}
			d := mustRead(t, docs[0])
			d[len(d)-1] ^= 1
			mustWrite(t, docs[0], d)
		}, nil, map[string]string{record(3, 1): "document 3's bytes are not the ones the record was signed for"}},
		{"a record removed", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, record(2, 1))); err != nil {
				t.Fatal(err)
			}
		}, nil, map[string]string{record(2, 2): "record 1 is missing"}},
		{"another unit's key", func(t *testing.T, dir string) {
			other, err := keystore.Create(filepath.Join(t.TempDir(), "other.pem"))
			if err != nil {
				t.Fatal(err)
			}
			mustWrite(t, filepath.Join(dir, "other.pub.pem"), archive.PublicKeyPEM(other.PublicKeyDER()))
		}, []string{"--key", "other.pub.pem"}, map[string]string{record(1, 1): "signed by key", record(2, 1): "signed by key", record(2, 2): "signed by key", record(3, 1): "signed by key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "export")
			if err := os.CopyFS(dir, os.DirFS(out)); err != nil {
				t.Fatal(err)
			}
			tc.edit(t, dir)
			args := []string{"verify"}
			for _, a := range tc.args {
				if strings.HasSuffix(a, ".pem") {
					a = filepath.Join(dir, a)
				}
				args = append(args, a)
			}
			res := runEgsd(t, env, append(args, dir)...)
			if res.Code == 0 {
				t.Fatalf("verify passed:\n%s", res)
			}
			fails := 0
			for line := range strings.Lines(res.Stdout) {
				if !strings.HasPrefix(line, "FAIL ") {
					continue
				}
				fails++
				rel, err := filepath.Rel(dir, strings.Fields(line)[1])
				want, ok := tc.fails[rel]
				if err != nil || !ok || !strings.Contains(line, want) {
					t.Errorf("unexpected %s(want %q)", line, want)
				}
			}
			if fails != len(tc.fails) {
				t.Errorf("%d files failed, want %d:\n%s", fails, len(tc.fails), res)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustWrite(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// replaceIn replaces the one occurrence of old in the file.
func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	b := mustRead(t, path)
	if bytes.Count(b, []byte(old)) != 1 {
		t.Fatalf("%s has %d × %q", path, bytes.Count(b, []byte(old)), old)
	}
	mustWrite(t, path, bytes.Replace(b, []byte(old), []byte(new), 1))
}

// editByte changes the byte at offset after the first occurrence of mark
// to another base64 letter.
func editByte(t *testing.T, path, mark string, offset int) {
	t.Helper()
	b := mustRead(t, path)
	i := bytes.Index(b, []byte(mark))
	if i < 0 {
		t.Fatalf("%s has no %q", path, mark)
	}
	i += len(mark) + offset
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	mustWrite(t, path, b)
}
