package windows

import (
	"bytes"
	"fmt"
	"syscall"

	"purser/client/agent"
	pb "purserpb/v1"
)

// setRegistryValue writes a value in the 64-bit view, creating its key.
func (e *Executor) setRegistryValue(a *pb.SetRegistryValue, params map[string]string) agent.ActionResult {
	key, name, typ, value := a.GetKey(), a.GetName(), a.GetType(), a.GetValue()
	if err := expandAll(params, &key, &name, &typ, &value); err != nil {
		return agentFailure(err)
	}
	root, sub, err := parseRegistryKey(key)
	if err != nil {
		return agentFailure(err)
	}
	t, data, err := encodeRegistryValue(typ, value)
	if err != nil {
		return agentFailure(fmt.Errorf("%s\\%s: %v", key, name, err))
	}
	k, err := createKey(root, sub, syscall.KEY_SET_VALUE|syscall.KEY_QUERY_VALUE)
	if err != nil {
		return agentFailure(err)
	}
	defer k.Close()
	shown := key + `\` + name + " = " + value
	if oldType, old, err := k.value(name); err == nil && oldType == t && bytes.Equal(old, data) {
		return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, shown+" (unchanged)")
	}
	if err := k.setValue(name, t, data); err != nil {
		return agentFailure(err)
	}
	return agent.Done(pb.StepOutcome_STEP_OUTCOME_SUCCEEDED, shown)
}
