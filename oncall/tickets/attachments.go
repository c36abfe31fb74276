package tickets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
)

// Attachment is a file that came with a report or a reply by e-mail,
// kept with the ticket (docs/tickets.md, "Attachments"). Data is in the
// store only; listings carry none.
type Attachment struct {
	ID          int64     `json:"id"`
	TicketID    int64     `json:"ticket_id"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	At          time.Time `json:"at"`
	// From is the sender of the mail it came with.
	From string `json:"from"`
	// Scan is the virus scanner's verdict: "clean", or "not scanned"
	// when no scanner is set up (an infected file is not kept).
	Scan string `json:"scan"`
}

// AttachmentStore keeps attachments (internal/store/ticketstore).
type AttachmentStore interface {
	// TicketAddAttachment stores a and its data unless the ticket's
	// attachments would then exceed maxTotal bytes (ErrAttachmentsFull).
	TicketAddAttachment(ctx context.Context, a Attachment, data []byte, maxTotal int64) (Attachment, error)
	// TicketAttachments lists a ticket's attachments, oldest first.
	TicketAttachments(ctx context.Context, ticketID int64) ([]Attachment, error)
	// TicketAttachment returns one attachment with its data; ErrNotFound.
	TicketAttachment(ctx context.Context, id int64) (Attachment, []byte, error)
}

// ErrAttachmentsFull is returned when a ticket's attachments would exceed
// tickets.attachments_max_bytes.
var ErrAttachmentsFull = errors.New("the ticket's attachments would exceed tickets.attachments_max_bytes")

// Scanner scans an attachment for viruses: infected with the signature's
// name, or an error when it could not scan.
type Scanner interface {
	ScanAttachment(ctx context.Context, data []byte) (infected bool, signature string, err error)
}

// inAttachment is an attachment read from a message: its data, or why it
// was not read (too large).
type inAttachment struct {
	name, contentType string
	data              []byte
	size              int64
	tooLarge          bool
}

// cleanName keeps a file name's last element, without control characters,
// at most 200 bytes.
func cleanName(n string) string {
	n = path.Base(strings.ReplaceAll(n, `\`, "/"))
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, n)
	if n == "." || n == "/" || n == "" {
		n = "attachment"
	}
	if len(n) > 200 {
		n = n[:200]
	}
	return n
}

// keepAttachments stores a message's attachments with ticket id within
// the limits, scanned when a scanner is set up, and puts one timeline
// entry saying what was kept and what not.
func (s *Service) keepAttachments(ctx context.Context, id int64, from string, atts []inAttachment) error {
	if len(atts) == 0 || s.o.Attachments == nil {
		if len(atts) > 0 {
			s.o.Logger.Info("ticket attachments not kept: no attachment store", "ticket", id, "n", len(atts))
		}
		return nil
	}
	var notes []string
	for _, a := range atts {
		if a.tooLarge {
			notes = append(notes, fmt.Sprintf("%s (%d bytes or more) not kept: larger than tickets.attachment_max_bytes", a.name, a.size))
			continue
		}
		scan := "not scanned"
		if s.o.Scanner != nil {
			infected, sig, err := s.o.Scanner.ScanAttachment(ctx, a.data)
			switch {
			case err != nil:
				notes = append(notes, fmt.Sprintf("%s not kept: the virus scan failed (%v)", a.name, err))
				continue
			case infected:
				notes = append(notes, fmt.Sprintf("%s not kept: infected (%s)", a.name, sig))
				continue
			}
			scan = "clean"
		}
		sum := sha256.Sum256(a.data)
		st, err := s.o.Attachments.TicketAddAttachment(ctx, Attachment{TicketID: id, Name: a.name, ContentType: a.contentType,
			Size: int64(len(a.data)), SHA256: hex.EncodeToString(sum[:]), At: s.o.Now(), From: from, Scan: scan}, a.data, s.o.Config.AttachmentsMaxBytes)
		if errors.Is(err, ErrAttachmentsFull) {
			notes = append(notes, fmt.Sprintf("%s (%d bytes) not kept: %v", a.name, len(a.data), err))
			continue
		}
		if err != nil {
			return err
		}
		notes = append(notes, fmt.Sprintf("attachment %d kept: %s (%d bytes, %s)", st.ID, st.Name, st.Size, scan))
	}
	_, err := s.o.Store.TicketChange(ctx, id, func(*Ticket, []Event) ([]Event, error) {
		return []Event{{At: s.o.Now(), Actor: "postvakt", Kind: EvComment, Body: strings.Join(notes, "\n")}}, nil
	})
	return err
}

// Attachments lists a ticket's attachments.
func (s *Service) Attachments(ctx context.Context, id int64) ([]Attachment, error) {
	if _, err := s.o.Store.TicketGet(ctx, id); err != nil {
		return nil, err
	}
	if s.o.Attachments == nil {
		return []Attachment{}, nil
	}
	return s.o.Attachments.TicketAttachments(ctx, id)
}

// Attachment returns one attachment with its data.
func (s *Service) Attachment(ctx context.Context, id int64) (Attachment, []byte, error) {
	if s.o.Attachments == nil {
		return Attachment{}, nil, fmt.Errorf("attachment %d: %w", id, ErrNotFound)
	}
	return s.o.Attachments.TicketAttachment(ctx, id)
}
