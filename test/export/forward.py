# forward.py (tests): runs exported PyTorch modules on given inputs in one process (torch takes seconds
# to import). Arguments: triples EXPORT_DIR INPUTS.safetensors OUTPUTS.safetensors. Each module loads
# the weights mira wrote beside it (init.safetensors) and its outputs are written by name.
import importlib.util
import sys

import torch


def main(argv):
    torch.set_num_threads(1)
    for i in range(0, len(argv), 3):
        out_dir, inputs_path, outputs_path = argv[i:i + 3]
        sys.path.insert(0, out_dir)
        import safetensors_io  # the copy beside the first module; every export ships the same file
        spec = importlib.util.spec_from_file_location(f"exported_model_{i}", f"{out_dir}/model.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        model = mod.Model()
        weights, _ = safetensors_io.load(f"{out_dir}/init.safetensors")
        model.load_state_dict({key: weights[name] for name, key, *_ in mod.PARAMS})
        inputs, _ = safetensors_io.load(inputs_path)
        with torch.no_grad():
            outputs = model(**{i["arg"]: inputs[i["name"]] for i in mod.MODEL["inputs"]})
        safetensors_io.save(outputs_path, {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in outputs.items()}, {})
        sys.path.remove(out_dir)


if __name__ == "__main__":
    main(sys.argv[1:])
