package queue

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strings"
	"time"
)

// Failure is one recipient's permanent failure for a DSN.
type Failure struct {
	Rcpt       string // original recipient
	Target     string // final recipient
	Status     string // RFC 3463 code, e.g. "5.1.1" or "4.4.7"
	Diagnostic string // "smtp; 550 5.1.1 …", empty when none
	RemoteMTA  string
	LastTry    time.Time
}

// DSNOptions describe one delivery status notification.
type DSNOptions struct {
	ReportingMTA string    // this host, the Reporting-MTA (RFC 3464 §2.2.2)
	To           string    // the original sender, who gets the notification
	QueueID      string    // the failed message's queue ID
	Arrival      time.Time // when the message arrived (Arrival-Date, RFC 3464 §2.2.5)
	Now          time.Time // the notification's Date
	Header       []byte    // the failed message's header block
	Failures     []Failure // one per failed recipient
}

// DSN builds a delivery status notification (RFC 3464) reporting the
// failures of the message whose header is o.Header: a multipart/report
// (RFC 6522) of a human-readable part, a message/delivery-status part, and
// the original header as text/rfc822-headers. It is sent with a null
// reverse-path (RFC 5321 §4.5.5).
func DSN(o DSNOptions) []byte {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	var hdr bytes.Buffer
	fmt.Fprintf(&hdr, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", o.ReportingMTA)
	fmt.Fprintf(&hdr, "To: <%s>\r\n", o.To)
	hdr.WriteString("Subject: Undelivered Mail Returned to Sender\r\n")
	fmt.Fprintf(&hdr, "Date: %s\r\n", o.Now.Format(time.RFC1123Z))
	fmt.Fprintf(&hdr, "Message-ID: <%s.dsn@%s>\r\n", randHex(), o.ReportingMTA)
	hdr.WriteString("Auto-Submitted: auto-replied\r\n")
	hdr.WriteString("MIME-Version: 1.0\r\n")
	fmt.Fprintf(&hdr, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n", mw.Boundary())

	human, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}, "Content-Description": {"Notification"}})
	fmt.Fprintf(human, "This is the mail system at host %s.\r\n\r\n", o.ReportingMTA)
	fmt.Fprintf(human, "Your message could not be delivered to one or more recipients.\r\n\r\n")
	for _, f := range o.Failures {
		fmt.Fprintf(human, "<%s>: %s\r\n", f.Target, describe(f))
	}

	ds, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"message/delivery-status"}, "Content-Description": {"Delivery report"}})
	fmt.Fprintf(ds, "Reporting-MTA: dns; %s\r\n", o.ReportingMTA)
	fmt.Fprintf(ds, "X-Postvakt-Queue-ID: %s\r\n", o.QueueID)
	fmt.Fprintf(ds, "Arrival-Date: %s\r\n", o.Arrival.Format(time.RFC1123Z))
	for _, f := range o.Failures {
		ds.Write([]byte("\r\n"))
		if f.Rcpt != "" && !strings.EqualFold(f.Rcpt, f.Target) {
			fmt.Fprintf(ds, "Original-Recipient: rfc822; %s\r\n", f.Rcpt)
		}
		fmt.Fprintf(ds, "Final-Recipient: rfc822; %s\r\n", f.Target)
		ds.Write([]byte("Action: failed\r\n"))
		fmt.Fprintf(ds, "Status: %s\r\n", f.Status)
		if f.RemoteMTA != "" {
			fmt.Fprintf(ds, "Remote-MTA: dns; %s\r\n", f.RemoteMTA)
		}
		if f.Diagnostic != "" {
			fmt.Fprintf(ds, "Diagnostic-Code: %s\r\n", oneLine(f.Diagnostic))
		}
		if !f.LastTry.IsZero() {
			fmt.Fprintf(ds, "Last-Attempt-Date: %s\r\n", f.LastTry.Format(time.RFC1123Z))
		}
	}

	orig, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/rfc822-headers"}, "Content-Description": {"Undelivered message headers"}})
	orig.Write(o.Header)
	mw.Close()
	return append(hdr.Bytes(), body.Bytes()...)
}

func describe(f Failure) string {
	if strings.HasPrefix(f.Status, "4.4.7") {
		return "delivery time expired; last error: " + oneLine(f.Diagnostic)
	}
	return oneLine(f.Diagnostic)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func randHex() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// headerOf returns the header block of msg (up to and including the empty
// line).
func headerOf(msg []byte) []byte {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return msg[:i+4]
	}
	if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		return msg[:i+2]
	}
	return msg
}
