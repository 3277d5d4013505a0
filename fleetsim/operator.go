package fleetsim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"purser/client/agent"
	pb "purserpb/v1"
)

// operator is the simulator's own operator connection: it creates the
// enrollment token and the campaign, and reads the server's figures.
type operator struct {
	client pb.OperatorServiceClient
	conn   *grpc.ClientConn
}

// dialOperator connects with an operator certificate, trusting only caPEM
// and expecting the server's name as the agents do.
func dialOperator(server string, caPEM, certPEM, keyPEM []byte) (*operator, error) {
	cfg, err := agent.TLSConfig(&agent.Identity{CAPEM: caPEM, CertPEM: certPEM, KeyPEM: keyPEM})
	if err != nil {
		return nil, err
	}
	conn, err := grpc.Dial(server, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		return nil, err
	}
	return &operator{client: pb.NewOperatorServiceClient(conn), conn: conn}, nil
}

// callCtx bounds one operator call.
func callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 60*time.Second)
}

func message(err error) string { return status.Convert(err).Message() }

func (o *operator) stats() (*pb.ServerStats, error) {
	ctx, cancel := callCtx()
	defer cancel()
	return o.client.GetServerStats(ctx, &pb.GetServerStatsRequest{})
}

func (o *operator) createToken(uses int) (string, error) {
	ctx, cancel := callCtx()
	defer cancel()
	resp, err := o.client.CreateEnrollmentToken(ctx, &pb.CreateEnrollmentTokenRequest{
		MaxUses: int32(uses), TtlSeconds: 3600, Labels: map[string]string{"fleet": "fleetsim"}})
	if err != nil {
		return "", err
	}
	return resp.GetToken(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// prepareCampaign uploads a small stand-in for each package of plan and
// stores a workspace key; it returns the campaign's parameters.
func (o *operator) prepareCampaign(plan string) (map[string]string, error) {
	ctx, cancel := callCtx()
	defer cancel()
	plans, err := o.client.ListPlans(ctx, &pb.ListPlansRequest{})
	if err != nil {
		return nil, err
	}
	var found *pb.Plan
	for _, p := range plans.GetPlans() {
		if p.GetName() == plan {
			found = p
		}
	}
	if found == nil {
		return nil, status.Errorf(codes.NotFound, "--plan: no plan named %s", plan)
	}
	for _, a := range found.GetArtifacts() {
		data := []byte(fmt.Sprintf("stand-in for %s\n%s", a.GetName(), randomHex(512)))
		w, err := o.client.UploadArtifact(ctx)
		if err == nil {
			err = w.Send(&pb.UploadArtifactRequest{Part: &pb.UploadArtifactRequest_Header{
				Header: &pb.ArtifactInfo{Name: a.GetName(), Size: int64(len(data))}}})
		}
		if err == nil {
			err = w.Send(&pb.UploadArtifactRequest{Part: &pb.UploadArtifactRequest_Chunk{Chunk: data}})
		}
		if err == nil {
			_, err = w.CloseAndRecv()
		}
		if err != nil {
			return nil, status.Errorf(codes.Internal, "upload %s: %s", a.GetName(), message(err))
		}
	}
	if _, err := o.client.PutSecret(ctx, &pb.PutSecretRequest{Name: "fleetsim-workspace-key",
		Value: randomHex(32)}); err != nil {
		return nil, err
	}
	return map[string]string{"workspace_id": "fleetsim-workspace", "workspace_key": "fleetsim-workspace-key"}, nil
}

func (o *operator) createCampaign(req *pb.CreateCampaignRequest) (*pb.Campaign, error) {
	ctx, cancel := callCtx()
	defer cancel()
	return o.client.CreateCampaign(ctx, req)
}

// campaign is the campaign id as the server has it now (c when it cannot say).
func (o *operator) campaign(c *pb.Campaign) *pb.Campaign {
	ctx, cancel := callCtx()
	defer cancel()
	all, err := o.client.ListCampaigns(ctx, &pb.ListCampaignsRequest{})
	if err != nil {
		return c
	}
	for _, x := range all.GetCampaigns() {
		if x.GetId() == c.GetId() {
			return x
		}
	}
	return c
}
