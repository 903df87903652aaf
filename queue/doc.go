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
// that they share the fsync (group commit). The authority's answers
// ([Store.RecordAnswer]) and deferred submissions ([Store.Defer]) go
// through the same writer, into the same commits. Each call's writes are
// still all-or-nothing: a stamp that fails writes nothing, and a call that
// fails halfway through its writes is dropped from the transaction, which
// is run again without it.
//
// # Formats
//
// The store keeps document bytes as given and knows no document format;
// regimes recompute hashes through [CheckOptions.Rehash]. Stored status and
// kind values have explicit numbers. Document bytes and the authority's
// answers are stored compressed (zstd, one format byte per value) and read
// back byte for byte; values stored before compression are read as they are.
//
// # Retention
//
// [Store.Prune] removes the oldest documents once their retention period has
// passed, if delivered and not held; the chain then starts from a
// [ChainAnchor]. [Compact] rewrites a closed store's file to give the space
// back.
package queue
