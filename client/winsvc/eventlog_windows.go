package winsvc

import (
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// EventKind is an event's type in the event log.
type EventKind uint16

const (
	EventError   EventKind = 1 // EVENTLOG_ERROR_TYPE
	EventWarning EventKind = 2 // EVENTLOG_WARNING_TYPE
	EventInfo    EventKind = 4 // EVENTLOG_INFORMATION_TYPE
)

// eventMessageFile: EventCreate.exe's message table formats event ids 1 to
// 1000 as the event's one string, so events read as written without a
// message DLL of our own (Windows XP and later have it).
const eventMessageFile = `%SystemRoot%\System32\EventCreate.exe`

// eventID is the id of each kind: within EventCreate.exe's 1..1000.
func eventID(kind EventKind) uint32 {
	switch kind {
	case EventError:
		return 3
	case EventWarning:
		return 2
	}
	return 1
}

// maxEventChars keeps a message under ReportEvent's limit of 31,839
// characters per string.
const maxEventChars = 31000

// InstallEventSource registers EventSource in the Application log.
func InstallEventSource() error {
	k, err := createHKLMKey(EventSourceKey)
	if err != nil {
		return err
	}
	defer k.close()
	if err := k.setString("EventMessageFile", eventMessageFile, regExpandSZ); err != nil {
		return err
	}
	return k.setDWORD("TypesSupported", uint32(EventError|EventWarning|EventInfo))
}

// RemoveEventSource unregisters EventSource; the events logged stay.
func RemoveEventSource() error { return deleteHKLMKey(EventSourceKey) }

// EventLog writes events of one source. Safe for concurrent use.
type EventLog struct {
	mu sync.Mutex
	h  uintptr
}

// OpenEventLog opens source for writing.
func OpenEventLog(source string) (*EventLog, error) {
	s, err := utf16(source)
	if err != nil {
		return nil, err
	}
	h, err := call(procRegisterEventSourceW, 0, ptr(s))
	if err != nil {
		return nil, fmt.Errorf("cannot open event source %s: %w", source, err)
	}
	return &EventLog{h: h}, nil
}

// Report writes one event.
func (e *EventLog) Report(kind EventKind, msg string) error {
	if r := []rune(msg); len(r) > maxEventChars {
		msg = string(r[:maxEventChars]) + "…"
	}
	// A message may hold anything: NUL would cut it.
	text, _ := utf16(strings.ReplaceAll(msg, "\x00", "\uFFFD"))
	strs := [1]*uint16{text}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h == 0 {
		return fmt.Errorf("event log closed")
	}
	if _, err := call(procReportEventW, e.h, uintptr(kind), 0, uintptr(eventID(kind)), 0, 1, 0,
		uintptr(unsafe.Pointer(&strs[0])), 0); err != nil {
		return fmt.Errorf("cannot write to the event log: %w", err)
	}
	return nil
}

// Close releases the source.
func (e *EventLog) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h != 0 {
		procDeregisterEventSource.Call(e.h)
		e.h = 0
	}
}
