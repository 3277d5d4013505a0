package fleetsim

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"purser/client/agent"
	pb "purserpb/v1"
)

// dialer is how agent e connects: from its own source address, with
// interceptors that measure every call into the fleet's figures.
func (f *Fleet) dialer(e *endpoint) agent.Dialer {
	return agent.Dialer{Server: f.opts.Server, SourceIP: e.sourceIP, Extra: []grpc.DialOption{
		grpc.WithUnaryInterceptor(f.unary(e)), grpc.WithStreamInterceptor(f.stream())}}
}

func rpcName(method string) string { return method[strings.LastIndex(method, "/")+1:] }

// waitName tells long polls apart by what they brought back.
func waitName(w *pb.WaitForWorkResponse) string {
	switch {
	case w.GetJob() != nil:
		return "WaitForWork (job)"
	case w.GetReboot():
		return "WaitForWork (reboot)"
	}
	return "WaitForWork (none)"
}

func (f *Fleet) unary(e *endpoint) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply interface{}, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if r, ok := req.(*pb.ReportResultRequest); ok {
			e.countStep(f, r)
		}
		t0 := time.Now()
		err := invoker(ctx, method, req, reply, cc, opts...)
		name := rpcName(method)
		if w, ok := reply.(*pb.WaitForWorkResponse); ok {
			name = waitName(w)
		}
		f.Stats.Record(name, time.Since(t0), err == nil)
		if err == nil && name == "CheckIn" {
			e.checkedIn(f, cc)
		}
		return err
	}
}

// countStep counts a step when its result is first reported: it ran to the
// end and was journaled (retries of the same report are not new steps).
// Only the agent's goroutine calls it.
func (e *endpoint) countStep(f *Fleet, r *pb.ReportResultRequest) {
	key := fmt.Sprintf("%s/%d", r.GetJobId(), r.GetAttempt())
	if key != e.lastReport {
		e.lastReport = key
		f.StepsRun.Add(1)
	}
}

// checkedIn notes a check-in. The first on a connection follows a boot (or
// an agent restart): a new TLS handshake.
func (e *endpoint) checkedIn(f *Fleet, cc *grpc.ClientConn) {
	if e.conn.Swap(cc) == cc {
		return
	}
	f.FirstCheckIns.Add(time.Now())
	if !e.counted.Swap(true) {
		f.CheckedIn.Add(1)
	}
}

// stream measures a streaming call (artifact downloads) from its start to
// its end.
func (f *Fleet) stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
		streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		t0 := time.Now()
		name := rpcName(method)
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			f.Stats.Record(name, time.Since(t0), false)
			return nil, err
		}
		return &timedStream{ClientStream: s, done: func(ok bool) { f.Stats.Record(name, time.Since(t0), ok) }}, nil
	}
}

type timedStream struct {
	grpc.ClientStream
	once sync.Once
	done func(ok bool)
}

func (s *timedStream) RecvMsg(m interface{}) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		s.once.Do(func() { s.done(err == io.EOF) })
	}
	return err
}
