// Package etimssim is a simulator of KRA's eTIMS sales control units, the
// KRA-hosted OSCU and the VSCU JAR, faithful enough for a unit to
// initialise, fetch its code lists, register items and have its sales and
// credit notes signed, with knobs to make it fail the way the real service
// does. Tests mount a [Server] on httptest; `egsd sim etims` is meant to
// serve it on a port for demos and technician training. Facts and sources
// are in spec/etims.md; each modelled behaviour cites its section there.
//
// # Routes
//
// One handler serves both profiles (spec/etims.md §A2):
//
//	/etims-api/selectInitOsdcInfo      OSCU (the base URL ends in /etims-api)
//	/etims-api/selectCodeList
//	/etims-api/selectItemClsList
//	/etims-api/saveItem
//	/etims-api/saveTrnsSalesOsdc
//	/etims-api/selectInvoiceDetails
//	/initializer/selectInitInfo        VSCU (the base URL is the root);
//	/selectInitOsdcInfo                  both init paths of §A2's conflict
//	/code/selectCodes
//	/itemClass/selectItemsClass
//	/items/saveItems
//	/trnsSales/saveSales
//	/trnsSales/selectInvoiceDetails    the simulator's own: §A2 has no VSCU lookup
//
// Every answer is KRA's envelope (resultCd, resultMsg, resultDt, data) with
// HTTP 200, as KRA answers; only faults answer other statuses. The
// fault-injection and inspection endpoints are under /admin/ (see
// [Server.ServeHTTP]).
//
// # What is modelled
//
//   - Initialisation (§A3): tin (a KRA PIN), bhfId and the device serial
//     give a communication key, an SCU ID and an MRC number. A device
//     initialises once: a second call is 902, unless [Config.Reinitialise].
//     With [Config.Devices] set, only those devices exist (901 otherwise,
//     903 for a device of the other profile).
//   - Authentication (§A3): OSCU calls need the tin, bhfId and cmcKey
//     headers (900 without them, 901 with a key the simulator did not
//     issue); VSCU calls carry tin and bhfId in the body, of a device
//     initialised through the VSCU routes.
//   - Code lists (§A4.3): class 04 with the band rates ([Config.Rates]),
//     07 payment types, 32 credit note reasons; 001 when nothing changed
//     since lastReqDt. Item classes likewise. [Server.ChangeRates] is KRA
//     changing a band's rate.
//   - Items (§A8): saveItem checks the item's form and registers it; a
//     sale's items must be registered, with the same class and band.
//   - Sales and credit notes (§A4): the request read strictly; rcptTyCd S
//     or R; the amounts, per item and per band, with the rates of class 04
//     (stamping/etims.CheckAmounts); a credit note's original received
//     before it as a sale, and its reason in class 32; a number received
//     twice is 994 with no signature (§A4.3, §A7). The answer is the
//     signature: curRcptNo, totRcptNo, intrlData (26 characters),
//     rcptSign (16), sdcDateTime; VSCU's answer has rcptNo, sdcId, mrcNo
//     and vsdcRcptPbctDate instead (§A4.2).
//   - invcNo continuity: a VSCU refuses a number past the next one with
//     922 (the earlier sales first, §A1's ordering rule), and a credit note
//     whose original it has not received with 921; OSCU accepts any new
//     number and records each gap, which [Server.Breaks] lists.
//   - selectInvoiceDetails (§A7): the sale with its receipt, the control
//     unit time in the lookup's own format; 001 when there is none.
//   - Faults in the spirit of coredns erratic ([Faults]): latency, timeout
//     after the sale was recorded, connection reset, HTTP 5xx for the next
//     N requests or a share, the whole service down, and a chosen result
//     code for a chosen invcNo.
//
// # What is simplified
//
// Credit notes are checked only as KRA is known to check them: the
// certified integration enforces the buyer's PIN, the amounts and the
// date against the original itself "as there is no validation of this
// kind in their system" (§A4.1), so the simulator accepts such notes and
// lists them in [Server.Findings]. Units of packaging and quantity are not
// checked against a code list. The signature is an HMAC of the request
// under a per-device secret, not KRA's algorithm. State is in memory only.
package etimssim
