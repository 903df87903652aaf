// Package queue is egsd's durable store, one bbolt file in the data
// directory. It keeps the unit's one invoice counter and hash chain, the
// journal of issued documents, the outbox of submissions, idempotency keys,
// incidents, users and sessions, and the hash-chained audit log.
//
// # Issuing
//
// [Store.Issue] runs one read-write transaction per issued document: next
// counter, previous hash, the caller's stamp function, then journal, chain
// head, outbox, idempotency key and audit entry. Issue returns only after
// the transaction is on disk. Concurrent calls are serialised by a single
// writer goroutine, which puts whatever is waiting into one bbolt commit so
// that they share the fsync (group commit); each document's writes are still
// all-or-nothing, because a stamp that fails writes nothing.
//
// # Formats
//
// The store keeps document bytes as given and knows no document format;
// regimes recompute hashes through [CheckOptions.Rehash]. Stored status and
// kind values have explicit numbers.
package queue
