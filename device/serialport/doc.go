// Package serialport opens the link to a receipt printer: an RS-232 or
// USB-serial port (a tty, configured for baud rate, data bits, parity and
// stop bits) or a USB printer-class device file such as /dev/usb/lp0, and
// lists the ports present so a technician can pick one.
//
// Every Port can time out a read and is unblocked by Close, so the printer
// driver can give up on a printer that has stopped answering without leaving
// anything stuck behind. On Linux and the other Unix systems this holds for
// writes too: the device is opened non-blocking and driven through Go's
// poller, and go.bug.st/serial only sets the line parameters, because a write
// blocked inside go.bug.st/serial is not interrupted by its Close.
package serialport
