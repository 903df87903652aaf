// Package offsite copies a unit's journal to an S3-compatible object store,
// the retailer's central archive, and reads a downloaded copy back.
//
// # Layout
//
// Below the configured prefix, each unit has the folder <seller>/<device>
// (the seller's VAT number and the device serial), and in it one folder per
// UTC day of issue:
//
//	<prefix>/<seller>/<device>/<yyyy-mm-dd>/documents/<counter>-<uuid>.xml
//	                                       /answers/<counter>-<uuid>.json
//	                                       /checkpoints/<audit seq>.json
//	                                       /manifest.json
//
// A document is stored byte for byte as issued and named as `egsd journal
// export` names it. Its answer object carries the authority's answer and
// the document's final status (AnswerObject); it lives in the folder of the
// document's day, so a day's folder holds what was issued that day and what
// became of it. Checkpoints are the signed audit checkpoints, in the folder
// of the day they were signed. The manifest (Manifest) lists every object
// of the day with its SHA-256 and size, the day's first and last counter,
// each document's hash and previous hash, and the chain head at the day's
// end.
//
// # Order and restarts
//
// The store keeps a cursor (queue.OffsiteCursor) with three marks:
// documents, answers and checkpoints. A pass sends the documents after the
// documents mark in counter order (with the answer of each one already
// answered), then the answers that arrived for documents after the answers
// mark, then the checkpoints after the checkpoints mark. The objects are
// stored first, then the manifests that list them, and only then are the
// marks advanced, so a restart at any point resumes from the marks and
// skips nothing. A manifest is sent whole: while documents keep coming, Run
// stores the manifests and the marks every Config.ManifestEvery (a day that
// is over at once, the rest when it stops); Sync after every step. What was
// sent but is not counted by the marks yet is looked up before it is sent
// again (an object with the same SHA-256 is kept), and a manifest is stored
// only when its bytes change, so a restart sends nothing twice.
//
// Answers arrive after documents and not in counter order: the answers
// mark stays below the oldest document still waiting for the authority,
// and each pass re-reads the documents from there (at most answerScanLimit)
// to send the answers that arrived since. The object store's outages only
// delay the uploader: issuing never waits for it, and the marks keep what
// is still to be sent (Uploader.HoldFrom tells pruning where to stop).
package offsite
