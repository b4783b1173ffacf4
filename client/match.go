package client

import (
	"context"
	"fmt"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// Random matching: a caller device asks to be paired with a stranger. The pair
// arrives as call.accepted (Call.Match set) on Events — at once if a partner
// was waiting — and then works as an answered video call.

// Match puts this user in the match queue. It returns the server's answer:
// match.waiting, or call.accepted when a partner was already waiting.
func (c *Client) Match(ctx context.Context, p wire.MatchProfile) (wire.Message, error) {
	return c.matchRequest(ctx, wire.Message{Type: wire.TypeMatchJoin, Profile: &p})
}

// Unmatch stops waiting for a match.
func (c *Client) Unmatch(ctx context.Context) error {
	_, err := c.matchRequest(ctx, wire.Message{Type: wire.TypeMatchLeave})
	return err
}

// Next ends the current match; both sides wait for their next partner.
func (c *Client) Next(ctx context.Context) error {
	_, err := c.matchRequest(ctx, wire.Message{Type: wire.TypeMatchNext})
	return err
}

// Block ends a match with identity, if any, and never pairs the two again.
func (c *Client) Block(ctx context.Context, identity string) error {
	_, err := c.matchRequest(ctx, wire.Message{Type: wire.TypeMatchBlock, Identity: identity})
	return err
}

// Report reports identity, met in a match, for review.
func (c *Client) Report(ctx context.Context, identity, reason string) error {
	_, err := c.matchRequest(ctx, wire.Message{Type: wire.TypeMatchReport, Identity: identity, Reason: reason})
	return err
}

func (c *Client) matchRequest(ctx context.Context, m wire.Message) (wire.Message, error) {
	reply, err := c.requestThen(ctx, m, nil)
	if err != nil {
		return reply, fmt.Errorf("client: %s: %w", m.Type, err)
	}
	return reply, nil
}
