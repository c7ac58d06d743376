# op_forward.py (tests): runs exported one-op PyTorch modules in one process (torch takes seconds to
# import). Arguments: MANIFEST.json OUT.json. The manifest lists {op, dir, inputs: {name: {dtype, shape,
# data}}}; each module is dir/model.py (mira_ops.py beside it); OUT maps op → output name → values.
import importlib.util
import json
import sys

import torch

DTYPES = {"f32": torch.float32, "i32": torch.int32, "bool": torch.bool}


def main(manifest_path, out_path):
    torch.set_num_threads(1)
    with open(manifest_path) as f:
        cases = json.load(f)
    results = {}
    for i, c in enumerate(cases):
        sys.path.insert(0, c["dir"])
        spec = importlib.util.spec_from_file_location(f"exported_op_{i}", f"{c['dir']}/model.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        args = {}
        for i_ in mod.MODEL["inputs"]:
            t = c["inputs"][i_["name"]]
            args[i_["arg"]] = torch.tensor(t["data"], dtype=torch.float64).to(DTYPES[t["dtype"]]).reshape(t["shape"])
        with torch.no_grad():
            outputs = mod.Model()(**args)
        results[c["op"]] = {k: v.to(torch.float64).flatten().tolist() for k, v in outputs.items()}
        sys.path.remove(c["dir"])
    with open(out_path, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
