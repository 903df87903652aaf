// Package agent is the egsd service: configuration, wiring, the issue
// pipeline, the local HTTP API, users and sessions, and status. One Agent
// owns one unit's store and regime. Only cmd/egsd imports it.
package agent
