// Package device holds what egsd does with the unit's hardware: the clock
// guard today; the ESC/POS encoder, serial transport and print queue join it.
package device
