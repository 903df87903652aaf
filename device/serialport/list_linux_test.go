package serialport

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestListPrinterClass builds the sysfs layout of a usblp device (class
// entry → interface → device attributes) and one device node without sysfs
// details.
func TestListPrinterClass(t *testing.T) {
	root := t.TempDir()
	devDir := filepath.Join(root, "dev/usb")
	classDir := filepath.Join(root, "sys/class/usbmisc")
	usbDev := filepath.Join(root, "sys/devices/pci0000:00/usb1/1-2")
	iface := filepath.Join(usbDev, "1-2:1.0")
	for _, d := range []string{devDir, filepath.Join(classDir, "lp0"), iface} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, value := range map[string]string{"idVendor": "04B8\n", "idProduct": "0e15\n", "serial": "X5A1\n", "product": "TM-T20II\n"} {
		if err := os.WriteFile(filepath.Join(usbDev, name), []byte(value), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(iface, filepath.Join(classDir, "lp0", "device")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"lp0", "lp1"} {
		if err := os.WriteFile(filepath.Join(devDir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	oldDev, oldClass := usbPrinterDevDir, usbPrinterClassDir
	usbPrinterDevDir, usbPrinterClassDir = devDir, classDir
	t.Cleanup(func() { usbPrinterDevDir, usbPrinterClassDir = oldDev, oldClass })

	got, err := listPrinterClass()
	if err != nil {
		t.Fatal(err)
	}
	want := []PortInfo{
		{Name: filepath.Join(devDir, "lp0"), USB: true, VendorID: "04b8", ProductID: "0e15", SerialNumber: "X5A1", Product: "TM-T20II"},
		{Name: filepath.Join(devDir, "lp1"), USB: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("listPrinterClass() =\n%+v\nwant\n%+v", got, want)
	}
	if name, err := findUSB(got, USBID{VendorID: "04b8", ProductID: "0e15"}); err != nil || name != want[0].Name {
		t.Errorf("findUSB on the listed printer = %q, %v", name, err)
	}
}
