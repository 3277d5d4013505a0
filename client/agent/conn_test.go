package agent

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// connectProxy is a minimal HTTP proxy that answers CONNECT with status
// (200: then relays bytes to the requested address).
func connectProxy(t *testing.T, status int) (addr string, asked chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	asked = make(chan string, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				asked <- req.Method + " " + req.Host
				if status != http.StatusOK {
					io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
					return
				}
				target, err := net.Dial("tcp", req.Host)
				if err != nil {
					return
				}
				defer target.Close()
				io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				go io.Copy(target, c)
				io.Copy(c, target)
			}(c)
		}
	}()
	return l.Addr().String(), asked
}

// echoServer answers each line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return l.Addr().String()
}

func TestTheAgentReachesTheServerThroughAnHTTPProxy(t *testing.T) {
	server := echoServer(t)
	proxy, asked := connectProxy(t, http.StatusOK)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dialer{Server: server, Proxy: proxy}.dialContext(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := <-asked; got != "CONNECT "+server {
		t.Errorf("the proxy was asked %q", got)
	}
	io.WriteString(c, "hello\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "hello\n" {
		t.Errorf("through the tunnel: %q %v", line, err)
	}
}

func TestARefusingProxyIsNamed(t *testing.T) {
	proxy, _ := connectProxy(t, http.StatusProxyAuthRequired)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dialer{Server: "purser.example:7443", Proxy: proxy}.dialContext(ctx, "purser.example:7443")
	if err == nil || !strings.Contains(err.Error(), proxy) || !strings.Contains(err.Error(), "407") {
		t.Errorf("refused CONNECT: %v", err)
	}
	_, err = Dialer{Proxy: "127.0.0.1:1"}.dialContext(ctx, "purser.example:7443")
	if err == nil || !strings.Contains(err.Error(), "proxy 127.0.0.1:1") {
		t.Errorf("unreachable proxy: %v", err)
	}
}
