"""Scale-out: environments in Ray worker processes (``ray_envs``), the body of one worker
(``env_host``). Importing this package does not import Ray; ``ray_envs`` does, when used."""
